from progress_tracking import services


def test_roundtrip(knowledge):
    sid = services.start_session(knowledge, files=["a.txt", "b.txt"])
    services.update_file_progress(sid, "a.txt", progress=50)
    services.update_file_progress(sid, "a.txt", progress=100, status="completed")
    d = services.update_file_progress(sid, "b.txt", progress=0, status="error", error="bad")
    assert d["processed_files"] == 2 and d["failed_files"] == 1 and d["progress"] == 100
    done = services.mark_session_complete(sid)
    assert done["status"] == "completed"
    assert services.get_progress(sid) == done
    assert services.clear_progress(sid) is True
    assert services.get_progress(sid) is None
