"""The back-office's catalog pages through Flask's test client: forms with CSRF, the role
matrix, the catalog services' refusals shown beside the form (4xx, input kept), archiving,
the CSV dry run then import, and one shop never reaching another's products."""

from __future__ import annotations

import io

import pytest

from tests.shop.backoffice import BackOffice, text
from tests.shop.merchants.conftest import team  # noqa: F401  (fixture)

NEW = {"sku": "STAR", "name": "Tree star", "description": "Gold, 12 cm", "category": "Decor",
       "price": "25.99", "stock": "40"}
HEADER = "sku,name,description,category,price_amount,currency,stock\r\n"


@pytest.fixture
def owner(client, team):  # noqa: F811
    return BackOffice.sign_in(client, team["owner"].slug, team["owner"].email)


def office_of(client, team, role: str) -> BackOffice:  # noqa: F811
    return BackOffice.sign_in(client, team[role].slug, team[role].email)


def public_product(client, slug, sku):
    return client.get(f"/api/v1/shops/{slug}/products/{sku}")


def test_without_a_session_the_pages_send_to_sign_in(client, shop):
    for path in ("/products", "/products/new", "/products/import", "/orders"):
        response = client.get(f"/merchant/shops/{shop.slug}{path}")
        assert response.status_code == 303, path
        assert response.headers["Location"].endswith("/merchant/sign-in")


def test_staff_creates_a_product_and_finds_it_in_the_list(client, team):  # noqa: F811
    staff = office_of(client, team, "staff")
    created = staff.post("/products/new", NEW)
    assert created.status_code == 303
    assert created.headers["Location"].endswith("/products/STAR/edit?created=1")
    product = public_product(client, staff.slug, "STAR").get_json()
    assert product["price"] == {"amount": 2599, "currency": "EUR"}
    assert product["available"] == 40 and product["category"] == "Decor"
    listed = text(staff.get("/products?q=star"))
    assert "Tree star" in listed and "€25.99" in listed
    assert "Tree star" not in text(staff.get("/products?category=Kitchen"))
    assert "Tree star" in text(staff.get("/products?category=Decor"))


def test_a_refused_product_keeps_what_was_typed_and_says_why(client, owner, api, shop):
    bad_price = owner.post("/products/new", {**NEW, "price": "25.999"})
    assert bad_price.status_code == 422 and bad_price.mimetype == "text/html"
    page = text(bad_price)
    assert "'price' must be an amount like 12.50 (at most 2 decimals)" in page
    assert 'value="Tree star"' in page and "Gold, 12 cm" in page
    assert 'id="price-error"' in page and 'aria-describedby="price-hint price-error"' in page
    assert public_product(client, owner.slug, "STAR").status_code == 404

    empty_name = owner.post("/products/new", {**NEW, "name": " "})
    assert empty_name.status_code == 422 and "Name: This field is required." in text(empty_name)
    assert 'aria-invalid="true"' in text(empty_name)

    bad_sku = owner.post("/products/new", {**NEW, "sku": "TREE STAR"})
    assert bad_sku.status_code == 422 and "may hold only letters" in text(bad_sku)

    assert owner.post("/products/new", NEW).status_code == 303
    taken = owner.post("/products/new", {**NEW, "name": "Another star"})
    assert taken.status_code == 409
    assert "SKU 'STAR' already exists" in text(taken) and 'value="Another star"' in text(taken)

    huge = owner.post("/products/new", {**NEW, "sku": "HUGE", "stock": "9" * 40})
    assert huge.status_code == 422
    not_a_number = owner.post("/products/new", {**NEW, "sku": "NAN", "stock": "lots"})
    assert not_a_number.status_code == 422


def test_a_form_without_its_csrf_token_changes_nothing(client, owner, api, shop):
    api.add_product(shop, "TREE", price=1000, stock=5)
    assert owner.post("/products/new", NEW, with_csrf=False).status_code == 400
    assert public_product(client, owner.slug, "STAR").status_code == 404
    edit = owner.post("/products/TREE/edit", {"name": "Forged", "price": "0", "stock": "0"},
                      with_csrf=False)
    assert edit.status_code == 400 and "expired or was sent from another site" in text(edit)
    assert owner.post("/products/TREE/archive", with_csrf=False).status_code == 400
    product = public_product(client, owner.slug, "TREE").get_json()
    assert product["name"] == "Product TREE" and product["available"] == 5


def test_a_viewer_reads_the_pages_and_is_refused_every_write(client, api, team):  # noqa: F811
    api.add_product(team["owner"], "TREE", stock=5)
    viewer = office_of(client, team, "viewer")
    assert viewer.get("/products").status_code == 200
    assert viewer.get("/products/TREE/edit").status_code == 200
    assert "New product" not in text(viewer.get("/products"))
    for path, data in (("/products/new", NEW), ("/products/TREE/edit", {**NEW, "stock": "0"}),
                       ("/products/TREE/archive", {})):
        refused = viewer.post(path, data)
        assert refused.status_code == 403 and refused.mimetype == "text/html", path
        assert "a viewer cannot do this" in text(refused)
    assert public_product(client, viewer.slug, "STAR").status_code == 404
    assert public_product(client, viewer.slug, "TREE").get_json()["available"] == 5


def test_only_owners_and_managers_import(client, team):  # noqa: F811
    staff = office_of(client, team, "staff")
    csv_file = (io.BytesIO((HEADER + "NEW,New,,,100,EUR,1\r\n").encode()), "new.csv")
    refused = staff.post("/products/import", {"file": csv_file},
                         content_type="multipart/form-data")
    assert refused.status_code == 403
    assert public_product(client, staff.slug, "NEW").status_code == 404


def test_editing_keeps_the_units_sold_meanwhile(client, owner, api, shop):
    api.add_product(shop, "TREE", price=1000, stock=10)
    form = text(owner.get("/products/TREE/edit"))
    assert 'name="shown_stock" type="hidden" value="10"' in form and 'value="10.00"' in form
    assert api.buy(shop, "TREE", 2).status_code == 201  # while the merchant types
    saved = owner.post("/products/TREE/edit", {"name": "Tree", "description": "", "category":
                                               "", "price": "12,50", "stock": "15",
                                               "shown_stock": "10"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("saved=1")
    product = client.get(f"/api/v1/shops/{shop.slug}/products/TREE").get_json()
    # Five more on the shelf than the form showed: 10 + 5, two of them held by the order.
    assert product["price"]["amount"] == 1250 and product["available"] == 13
    page = text(owner.get("/products/TREE/edit?saved=1"))
    assert "Changes saved." in page and 'value="15"' in page


def test_stock_below_what_open_orders_hold_is_refused_beside_the_form(client, owner, api,
                                                                       shop):
    api.add_product(shop, "TREE", price=1000, stock=3)
    assert api.buy(shop, "TREE", 3).status_code == 201
    refused = owner.post("/products/TREE/edit", {"name": "Tree", "price": "10.00",
                                                 "stock": "0", "shown_stock": "3"})
    assert refused.status_code == 409
    assert "fewer units than the 3 reserved" in text(refused) and 'value="0"' in text(refused)


def test_a_product_with_variants_shows_them_and_has_no_stock_of_its_own(client, owner, shop):
    created = client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth, json={
        "sku": "SOCKS", "name": "Wool socks", "price": 1500,
        "variants": [{"sku": "SOCKS-38", "options": {"size": "38"}, "stock": 4},
                     {"sku": "SOCKS-42", "options": {"size": "42"}, "price": 1700,
                      "stock": 0}]})
    assert created.status_code == 201
    page = text(owner.get("/products/SOCKS/edit"))
    assert "SOCKS-38" in page and "size 42" in page and "€17.00" in page
    assert 'name="stock"' not in page
    saved = owner.post("/products/SOCKS/edit", {"name": "Warm socks", "price": "15.00"})
    assert saved.status_code == 303
    variant = owner.post("/products/SOCKS-38/edit", {"name": "Wool socks (size 38)",
                                                     "price": "15.00", "stock": "9",
                                                     "shown_stock": "4"})
    assert variant.status_code == 303
    listed = client.get(f"/api/v1/shops/{shop.slug}/products/SOCKS").get_json()
    assert listed["name"] == "Warm socks" and listed["variants"][0]["available"] == 9


def test_archiving_takes_a_product_off_sale_and_restoring_brings_it_back(client, owner, api,
                                                                         shop):
    client.post(f"/api/v1/shops/{shop.slug}/products", headers=shop.auth, json={
        "sku": "SOCKS", "name": "Wool socks", "price": 1500,
        "variants": [{"sku": "SOCKS-38", "options": {"size": "38"}, "stock": 4}]})
    api.add_product(shop, "TREE", stock=5)
    cart = api.new_cart(shop)
    assert api.set_item(cart, "SOCKS-38", 1).status_code == 200

    archived = owner.post("/products/SOCKS/archive")
    assert archived.status_code == 303 and archived.headers["Location"].endswith("archived=1")
    for sku in ("SOCKS", "SOCKS-38"):
        assert public_product(client, shop.slug, sku).status_code == 404
    shopper_list = client.get(f"/api/v1/shops/{shop.slug}/products").get_json()["items"]
    assert [item["sku"] for item in shopper_list] == ["TREE"]
    assert api.set_item(api.new_cart(shop), "SOCKS-38", 1).status_code == 404
    # A cart that held it no longer counts it; removing the line still works.
    assert client.get(f"/api/v1/carts/{cart}").get_json()["items"] == []
    assert api.set_item(cart, "SOCKS-38", 0).status_code == 200
    assert "Wool socks" not in text(owner.get("/products"))
    assert "Wool socks" in text(owner.get("/products?show=archived"))
    assert "Archived" in text(owner.get("/products/SOCKS/edit"))
    assert owner.post("/products/SOCKS/archive").status_code == 303  # twice changes nothing

    refused = owner.post("/products/SOCKS-38/restore")
    assert refused.status_code == 409 and "restore 'SOCKS' first" in text(refused)
    assert owner.post("/products/SOCKS/restore").status_code == 303
    assert public_product(client, shop.slug, "SOCKS-38").get_json()["available"] == 4
    assert "Wool socks" in text(owner.get("/products"))


def test_another_shops_products_are_out_of_reach(client, api, owner):
    other = api.sign_up("Someone Else")
    api.add_product(other, "THEIRS", stock=7)
    assert client.get(f"/merchant/shops/{other.slug}/products").status_code == 403
    for path in ("/products/THEIRS/edit",):
        assert owner.get(path).status_code == 404
    for path, data in (("/products/THEIRS/edit", {**NEW, "stock": "0"}),
                       ("/products/THEIRS/archive", {})):
        assert owner.post(path, data).status_code == 404
    forged = owner.client.post(f"/merchant/shops/{other.slug}/products/new",
                               data={**NEW, "csrf_token": owner.token})
    assert forged.status_code == 403
    product = public_product(client, other.slug, "THEIRS").get_json()
    assert product["available"] == 7 and product["name"] == "Product THEIRS"
    assert public_product(client, other.slug, "STAR").status_code == 404


@pytest.mark.parametrize("query", ["q=a%00b", "category=%00", "cursor=not-a-cursor",
                                   "cursor=" + "A" * 80, "limit=0", "limit=%C2%B2",
                                   "q=" + "x" * 300, "limit=" + "9" * 5000,
                                   "cursor=%01"])
def test_bad_list_parameters_get_a_page_saying_so(owner, query):
    response = owner.get(f"/products?{query}")
    assert response.status_code in (400, 414, 422), response.status_code
    assert response.mimetype == "text/html"


def test_an_unknown_product_is_a_404_page(owner):
    response = owner.get("/products/NOPE/edit")
    assert response.status_code == 404 and "no product with SKU 'NOPE'" in text(response)


def test_the_list_pages_through_every_product(owner, api, shop):
    for number in range(5):
        api.add_product(shop, f"P-{number}", stock=1)
    seen, path = [], "/products?limit=2"
    while path:
        page = text(owner.get(path))
        seen += [sku for sku in (f"P-{n}" for n in range(5)) if f"<code>{sku}</code>" in page]
        next_link = [part for part in page.split('rel="next" href="')[1:]]
        path = (next_link[0].split('"')[0].replace("&amp;", "&").split(owner.slug, 1)[1]
                if next_link else None)
    assert seen == [f"P-{n}" for n in range(5)]


def upload(office, body: bytes, name: str = "catalog.csv"):
    return office.post("/products/import", {"file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data")


def staged_key(page: str) -> str:
    return page.split('name="staged" type="hidden" value="')[1].split('"')[0]


def test_the_csv_dry_run_shows_each_bad_row_and_changes_nothing(client, owner, api, shop):
    api.add_product(shop, "OLD", price=100, stock=1)
    body = (HEADER + "OLD,Old candle,,light,150,EUR,2\r\n"
                     "NEW,New candle,,light,500,EUR,3\r\n"
                     "BAD,Bad candle,,light,five euros,EUR,3\r\n").encode()
    dry_run = upload(owner, body)
    assert dry_run.status_code == 200
    page = text(dry_run)
    assert "nothing has changed yet" in page
    assert "create <strong>1</strong> and update <strong>1</strong>" in page
    assert '<td data-label="Row" class="num">4</td>' in page
    assert "'price_amount' must be a whole number" in page
    assert "Import the 2 good rows" in page
    assert public_product(client, shop.slug, "NEW").status_code == 404
    assert public_product(client, shop.slug, "OLD").get_json()["price"]["amount"] == 100

    key = staged_key(page)
    applied = owner.post("/products/import/apply", {"staged": key})
    assert applied.status_code == 200 and "Created <strong>1</strong>" in text(applied)
    assert public_product(client, shop.slug, "NEW").get_json()["available"] == 3
    assert public_product(client, shop.slug, "OLD").get_json()["price"]["amount"] == 150
    assert public_product(client, shop.slug, "BAD").status_code == 404
    again = owner.post("/products/import/apply", {"staged": key})
    assert again.status_code == 404 and "upload the file again" in text(again)


def test_a_staged_file_is_only_for_its_own_shop_and_its_csrf_token(client, owner, api, team):  # noqa: F811,E501
    key = staged_key(text(upload(owner, (HEADER + "NEW,New,,,100,EUR,1\r\n").encode())))
    assert owner.post("/products/import/apply", {"staged": key},
                      with_csrf=False).status_code == 400
    other = api.sign_up("Someone Else")
    other_owner = client.get(f"/api/v1/shops/{other.slug}/collaborators",
                             headers=other.auth).get_json()["items"][0]
    client.post("/merchant/sign-out", data={"csrf_token": owner.token})
    intruder = BackOffice.sign_in(client, other.slug, other_owner["email"],
                                  "correct horse battery")
    assert intruder.post("/products/import/apply", {"staged": key}).status_code == 404
    assert public_product(client, other.slug, "NEW").status_code == 404
    assert public_product(client, owner.slug, "NEW").status_code == 404


@pytest.mark.parametrize("body, status, message", [
    (b"name,price\r\nx,1\r\n", 422, "the header must be"),
    (HEADER.encode() + b"X,\xff\xfe,,,1,EUR,1\r\n", 422, "not UTF-8"),
    (b"", 422, "the file is empty"),
    (HEADER.encode() + b"X,a\x00b,,,1,EUR,1\r\n", 422, "NUL characters"),
])
def test_a_file_that_cannot_be_read_is_refused_beside_the_form(client, owner, body, status,
                                                              message):
    response = upload(owner, body)
    assert response.status_code == status and message in text(response)
    assert 'name="staged"' not in text(response)


def test_an_upload_without_a_file_or_too_large_is_a_4xx_page(owner, make_app, team):  # noqa: F811,E501
    missing = owner.post("/products/import", {}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "choose a CSV file" in text(missing)
    small = make_app(max_import_bytes=1024)
    office = BackOffice.sign_in(small.test_client(), team["owner"].slug, team["owner"].email)
    too_large = upload(office, (HEADER + "X,x,,,1,EUR,1\r\n" * 200).encode())
    assert too_large.status_code == 413 and "split it into smaller files" in text(too_large)


def test_the_export_link_downloads_the_import_format(owner, api, shop):
    api.add_product(shop, "TREE", name="=cmd()", price=1999, stock=4, category="Decor")
    response = owner.get("/products/export")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{shop.slug}-products.csv"')
    assert text(response) == HEADER + "TREE,'=cmd(),,Decor,1999,EUR,4\r\n"


def test_an_import_updates_an_archived_product_and_leaves_it_archived(client, owner, api,
                                                                      shop):
    api.add_product(shop, "TREE", price=1000, stock=5)
    assert owner.post("/products/TREE/archive").status_code == 303
    page = text(upload(owner, (HEADER + "TREE,Renamed tree,,,1200,EUR,6\r\n").encode()))
    assert "create <strong>0</strong> and update <strong>1</strong>" in page
    assert owner.post("/products/import/apply", {"staged": staged_key(page)}).status_code == 200
    assert public_product(client, shop.slug, "TREE").status_code == 404
    assert "Renamed tree" in text(owner.get("/products?show=archived"))


def test_a_file_wrong_throughout_shows_the_first_errors_and_counts_the_rest(owner):
    rows = "".join(f"R{n},Row {n},,,lots,EUR,1\r\n" for n in range(250))
    page = text(upload(owner, (HEADER + rows).encode()))
    assert page.count('<td data-label="Row" class="num">') == 200
    assert "… and 50 more rows with errors" in page and 'name="staged"' not in page
