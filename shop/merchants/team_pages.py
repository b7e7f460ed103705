"""The team page: who runs the shop, open invitations, and (owners) invite, change a role,
remove someone, hand over ownership; and the page where an invitee accepts their link.

Every change goes through `shop.merchants.team`, the same functions as the JSON API, so the
rules (at least one owner, one membership per person, the plan's collaborator quota) hold
here too.
"""

from __future__ import annotations

from flask import Blueprint, g, session, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from shop.core import resources
from shop.core.errors import Problem
from shop.merchants import roles, team
from shop.merchants import service as merchants
from shop.merchants.access import acting
from shop.merchants.page_kit import (
    SESSION_TOKEN,
    ButtonForm,
    render_page,
    see_other,
    submitted,
)
from shop.merchants.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

blueprint = Blueprint("team", __name__)

ROLE_CHOICES = [SelectChoice(role.value, role.value.capitalize()) for role in roles.ROLES]
ROLE_HINTS = {
    roles.Role.OWNER: "everything, including the team, the plan and the audit log",
    roles.Role.MANAGER: "catalog, imports, carriers, events, waiting room",
    roles.Role.STAFF: "products, prices and stock; their own tokens",
    roles.Role.VIEWER: "reads everything but the audit log, changes nothing",
}


class InviteForm(FlaskForm):
    email = EmailField("E-mail of the person to invite",
                       validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=roles.Role.STAFF.value)


class RoleForm(FlaskForm):
    role = SelectField("New role", choices=ROLE_CHOICES)


class TransferForm(FlaskForm):
    collaborator_id = SelectField("New owner", coerce=int, validate_choice=False)


class NewAccountForm(FlaskForm):
    # Its strength is checked by the account service, the same rule as at sign-up.
    password = PasswordField("Choose a password", validators=[DataRequired()],
                             description=f"At least {MIN_PASSWORD_LENGTH} characters.")
    confirm = PasswordField("Type it again",
                            validators=[DataRequired(),
                                        EqualTo("password", "the two passwords differ")])


class ExistingAccountForm(FlaskForm):
    password = PasswordField("Your password",
                             validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


def _team_page(slug: str, status: int = 200, *, invite: InviteForm | None = None,
               error: str | None = None, error_for: str | None = None,
               invited: dict | None = None):
    who = acting()
    with resources.current().database.reading() as db:
        shop = merchants.shop_by_slug(db, slug)
        members = team.list_team(db, who.merchant_id)
        successors = [SelectChoice(str(m.id), f"{m.email} ({m.role})") for m in members
                      if m.status == "active" and m.id != who.collaborator_id]
        transfer = TransferForm()
        transfer.collaborator_id.choices = successors
        return render_page("merchant/team.html", status, shop=shop, who=who,
                           members=members, invite=invite or InviteForm(formdata=None),
                           transfer=transfer, role_form=RoleForm, button=ButtonForm,
                           may_manage=roles.may(who.role, "team.write"),
                           role_hints=ROLE_HINTS, error=error, error_for=error_for,
                           invited=invited)


@blueprint.get("/shops/<slug>/team")
def show_team(slug: str):
    """The shop's collaborators and open invitations."""
    return _team_page(slug)


@blueprint.post("/shops/<slug>/team/invitations")
def invite(slug: str):
    """Invite someone by e-mail with a role; the page shows the single-use link once."""
    form = InviteForm()
    settings = resources.current().settings
    try:
        submitted(form)
        with resources.current().database.transaction() as db:
            invited = team.invite(db, acting().merchant_id,
                                  {"email": form.email.data, "role": form.role.data},
                                  invitation_ttl_hours=settings.invitation_ttl_hours,
                                  token_ttl_days=settings.token_ttl_days)
            link = url_for("merchant_pages.team.accept_invitation",
                           invitation=invited.invitation, _external=True)
            shown = {"email": invited.collaborator.email, "role": invited.collaborator.role,
                     "link": link, "expires_at": invited.collaborator.invitation_expires_at}
        g.audit_details = {"email": shown["email"], "role": shown["role"]}
    except Problem as problem:
        return _team_page(slug, problem.status, invite=form, error=problem.detail,
                          error_for="invite")
    return _team_page(slug, 201, invited=shown)


@blueprint.post("/shops/<slug>/team/<int:collaborator_id>/role")
def change_role(slug: str, collaborator_id: int):
    """Give a collaborator another role (the shop keeps at least one owner)."""
    form = RoleForm()
    try:
        submitted(form)
        with resources.current().database.transaction() as db:
            team.change_role(db, acting().merchant_id, collaborator_id,
                             {"role": form.role.data})
        g.audit_details = {"role": form.role.data}
    except Problem as problem:
        return _team_page(slug, problem.status, error=problem.detail,
                          error_for=f"member-{collaborator_id}")
    return see_other("merchant_pages.team.show_team", slug=slug)


@blueprint.post("/shops/<slug>/team/<int:collaborator_id>/remove")
def remove(slug: str, collaborator_id: int):
    """Take someone off the team or cancel their invitation; their tokens stop working."""
    try:
        submitted(ButtonForm())
        with resources.current().database.transaction() as db:
            team.remove(db, acting().merchant_id, collaborator_id)
    except Problem as problem:
        return _team_page(slug, problem.status, error=problem.detail,
                          error_for=f"member-{collaborator_id}")
    return see_other("merchant_pages.team.show_team", slug=slug)


@blueprint.post("/shops/<slug>/team/ownership")
def transfer_ownership(slug: str):
    """Make another collaborator owner; the acting owner becomes a manager."""
    form = TransferForm()
    try:
        submitted(form)
        with resources.current().database.transaction() as db:
            team.transfer_ownership(db, acting(), {"collaborator_id": form.collaborator_id.data})
        g.action = "team.transfer_ownership"
    except Problem as problem:
        return _team_page(slug, problem.status, error=problem.detail, error_for="transfer")
    return see_other("merchant_pages.team.show_team", slug=slug)


@blueprint.route("/invitations/<invitation>", methods=["GET", "POST"])
def accept_invitation(invitation: str):
    """Join a shop by the invitation link: someone new chooses a password, someone with an
    account gives theirs; then they are signed in."""
    invitation = invitation[:200]
    current = resources.current()
    with current.database.reading() as db:
        invited = team.open_invitation(db, invitation)
        email, role = invited.invited_email, invited.role
        shop_name = invited.merchant.name
        returning = team.has_account(db, email)
    form = ExistingAccountForm() if returning else NewAccountForm()
    try:
        if submitted(form):
            with current.database.transaction() as db:
                issued = team.join(db, invitation, {"password": form.password.data},
                                   token_ttl_days=current.settings.token_ttl_days)
                slug = issued.merchant.slug
            session.clear()
            session[SESSION_TOKEN] = issued.token
            return see_other("merchant_pages.dashboard", slug=slug)
        status, error = 200, None
    except Problem as problem:
        status, error = problem.status, problem.detail
    return render_page("merchant/accept_invitation.html", status, form=form, email=email,
                       role=role, shop_name=shop_name, returning=returning, error=error,
                       role_hint=ROLE_HINTS.get(role))
