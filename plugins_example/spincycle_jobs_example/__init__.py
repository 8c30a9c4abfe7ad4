"""Example jobs for spincycle-jobs; the plugin's hook lives in :mod:`.plugin`."""
