"""What reset.yml may remove on a node, decided from what is there (read only).

decide.py: the ownership rules, pure (is the state directory podnet's own, is the conflist
the one podnet writes, which entries and directories go, which networks and devices);
host.py: the one read of the host they need; entry.py: the reset_facts module's adapter.
"""
