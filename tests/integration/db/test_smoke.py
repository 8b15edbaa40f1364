from tests.conftest import TenantCtx
from tests.factories import balance, make_location, make_sku, receive


def test_receipt_raises_on_hand(tenant: TenantCtx) -> None:
    # given
    make_sku(tenant, "KURTA-M")
    make_location(tenant, "BHW")
    # when
    receive(tenant, "KURTA-M", "BHW", 12)
    # then
    assert balance(tenant, "KURTA-M", "BHW").on_hand == 12
