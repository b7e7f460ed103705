"""Imports every domain's models so that `Base.metadata` knows all tables (Alembic, tests)."""

from shop.breaches import models as breach_models  # noqa: F401
from shop.catalog import models as catalog_models  # noqa: F401
from shop.events import models as event_models  # noqa: F401
from shop.fulfilment import models as fulfilment_models  # noqa: F401
from shop.images import models as image_models  # noqa: F401
from shop.merchants import models as merchant_models  # noqa: F401
from shop.notifications import models as notification_models  # noqa: F401
from shop.orders import models as order_models  # noqa: F401
from shop.payments import models as payment_models  # noqa: F401
from shop.privacy import models as privacy_models  # noqa: F401
from shop.status import models as status_models  # noqa: F401
from shop.webhooks import models as webhook_models  # noqa: F401
