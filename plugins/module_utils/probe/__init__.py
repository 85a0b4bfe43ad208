"""verify.yml's host side: a throwaway pod-like namespace, pings from it, and readings."""
