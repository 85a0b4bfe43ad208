"""podnet's files on a node (subnet.env, the CNI conflist, the boot restore's record, unit
and PSK) and their directories, written in one module run: read -> diff -> apply (one
atomic write each, core.files) -> re-read -> verify, like every backend.

diff.py: the wanted paths against what is there (pure); host.py: the read and the writes;
entry.py: the files module's one adapter.
"""
