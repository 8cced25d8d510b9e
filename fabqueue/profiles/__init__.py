"""Machine, material, price and site profiles: TOML data, validated strictly, loaded once
at start-up."""

from fabqueue.profiles.loader import ProfileError, ProfileErrors, ProfileSet, load_profiles
from fabqueue.profiles.models import MachineProfile, MaterialProfile
from fabqueue.profiles.prices import PriceProfile
from fabqueue.profiles.site import SiteProfile, VatRegime

__all__ = [
    "MachineProfile",
    "MaterialProfile",
    "PriceProfile",
    "ProfileError",
    "ProfileErrors",
    "ProfileSet",
    "SiteProfile",
    "VatRegime",
    "load_profiles",
]
