# The benchmark harness starts servers and load generators: never collect it as tests.
collect_ignore_glob = ["*"]
