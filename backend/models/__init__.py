"""The connector's data, one module per aggregate."""
from backend.models.base import utcnow  # noqa: F401
from backend.models.billwerk import BillwerkAccount, BillwerkEntity  # noqa: F401
from backend.models.catalog import CatalogProduct, CatalogSettings  # noqa: F401
from backend.models.contracts import ContractState  # noqa: F401
from backend.models.custom_fields import CustomFieldMapping, CustomFieldState  # noqa: F401
from backend.models.deals import DealOrder, DealPreview  # noqa: F401
from backend.models.imports import ImportCandidate  # noqa: F401
from backend.models.inbox import InboxEvent, UsedSignature  # noqa: F401
from backend.models.links import ContractLink, CustomerLink  # noqa: F401
from backend.models.portal import Portal  # noqa: F401
from backend.models.sync import SyncRun  # noqa: F401
from backend.models.upgrades import UpgradeDealLink  # noqa: F401
