"""Machine and material profiles: TOML data, validated strictly, loaded once at start-up."""

from fabqueue.profiles.loader import ProfileError, ProfileErrors, ProfileSet, load_profiles
from fabqueue.profiles.models import MachineProfile, MaterialProfile

__all__ = [
    "MachineProfile",
    "MaterialProfile",
    "ProfileError",
    "ProfileErrors",
    "ProfileSet",
    "load_profiles",
]
