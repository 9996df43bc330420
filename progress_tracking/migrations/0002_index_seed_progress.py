from django.db import migrations


def index_seed_progress(apps, schema_editor):
    from progress_tracking.backfill import backfill_progress_columns

    model = apps.get_model("progress_tracking", "Knowledge")
    if model._meta.swapped:
        return
    backfill_progress_columns(model, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    """Make progress stored in the seed's format (inside ``meta`` only) findable by index."""

    dependencies = [("progress_tracking", "0001_initial")]

    operations = [migrations.RunPython(index_seed_progress, migrations.RunPython.noop)]
