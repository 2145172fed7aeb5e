"""peewee models over the tables of sql/ (the migrations own the schema; models only read and write)."""
from __future__ import annotations

from peewee import (BigAutoField, BigIntegerField, BooleanField, CompositeKey, DateField, DecimalField,
                    ForeignKeyField, IntegerField, Model, TextField)
from playhouse.postgres_ext import BinaryJSONField, DateTimeTZField


class Base(Model):
    class Meta:
        legacy_table_names = False


class Campaign(Base):
    id = BigAutoField()
    name = TextField()
    active = BooleanField(default=True)
    max_attempts = IntegerField(default=5)
    retry_delay_s = IntegerField(default=1800)
    ring_timeout_s = IntegerField(default=30)
    caller_id = TextField(default="")
    wrap_up_limit_s = IntegerField(default=0)
    auto_ready = BooleanField(default=True)
    created_at = DateTimeTZField(null=True)
    operator_answer_timeout_s = IntegerField(default=15)
    missed_offers_limit = IntegerField(default=3)
    order_url_template = TextField(default="")
    # sql/013_campaign_settings.sql; no default here: the table's default window applies (rules/window.py)
    calling_window = BinaryJSONField(null=True)
    max_per_day = IntegerField(null=True)
    min_pause_minutes = IntegerField(null=True)
    retry_delays = BinaryJSONField(default=dict)
    exhausted_status = TextField(default="")


class Lead(Base):
    id = BigAutoField()
    campaign = ForeignKeyField(Campaign, column_name="campaign_id", backref="leads")
    external_id = TextField()
    phone = TextField()
    name = TextField(default="")
    attrs = BinaryJSONField(default=dict)
    state = TextField(default="new")
    attempts = IntegerField(default=0)
    next_call_at = DateTimeTZField(null=True)
    last_attempt_at = DateTimeTZField(null=True)
    last_outcome = TextField(null=True)
    created_at = DateTimeTZField(null=True)
    country = TextField(default="")
    region = TextField(default="")
    city = TextField(default="")
    amount = DecimalField(max_digits=14, decimal_places=2, null=True)
    birth_date = DateField(null=True)
    product = TextField(default="")
    crm_status = TextField(default="")
    priority = IntegerField(default=0)
    attempts_today = IntegerField(default=0)
    attempts_day = DateField(null=True)
    assigned_operator_id = BigIntegerField(null=True)
    time_zone = TextField(default="Europe/Moscow")
    time_zone_source = TextField(default="default")
    crm_connection_id = BigIntegerField(null=True)  # the CRM the order came from (sql/005_crm.sql)
    crm_status_applied = TextField(null=True)
    callback = BooleanField(default=False)
    listed = BooleanField(default=False)  # the number is on the do-not-call list: kept by triggers (sql/027)


class Operator(Base):
    id = BigAutoField()
    name = TextField()
    login = TextField(unique=True)
    sip_password = TextField(null=True)  # only for inserts of the foundation's kind: the device keeps it (sql/012)
    server = TextField(default="pbx")
    status = TextField(default="offline")
    status_since = DateTimeTZField(null=True)
    pause_reason = TextField(null=True)  # why the engine paused the operator (sql/021); cleared by a working status
    leg_channel = TextField(null=True)
    bridge_id = TextField(null=True)
    attempt_id = BigIntegerField(null=True)
    created_at = DateTimeTZField(null=True)
    auto_answer = BooleanField(default=True)
    missed_offers = IntegerField(default=0)
    active = BooleanField(default=True)  # a deactivated operator stays for the history of their calls


class OperatorCampaign(Base):
    operator = ForeignKeyField(Operator, column_name="operator_id", on_delete="CASCADE")
    campaign = ForeignKeyField(Campaign, column_name="campaign_id", on_delete="CASCADE")

    class Meta:
        primary_key = CompositeKey("operator", "campaign")


class Attempt(Base):
    id = BigAutoField()
    lead = ForeignKeyField(Lead, column_name="lead_id", backref="attempt_set")
    campaign = ForeignKeyField(Campaign, column_name="campaign_id")
    operator = ForeignKeyField(Operator, column_name="operator_id", null=True)
    server = TextField(default="pbx")
    phone = TextField()
    client_channel = TextField(null=True)
    reserved_at = DateTimeTZField(null=True)
    offered_at = DateTimeTZField(null=True)
    operator_answered_at = DateTimeTZField(null=True)
    dial_started_at = DateTimeTZField(null=True)
    ringing_at = DateTimeTZField(null=True)
    answered_at = DateTimeTZField(null=True)
    bridged_at = DateTimeTZField(null=True)
    ended_at = DateTimeTZField(null=True)
    hangup_cause = IntegerField(null=True)
    cause_text = TextField(null=True)
    sip_code = IntegerField(null=True)
    dial_status = TextField(null=True)
    outcome = TextField(null=True)
    error = TextField(null=True)
    wrap_up_result = TextField(null=True)
    wrap_up_comment = TextField(null=True)
    wrap_up_at = DateTimeTZField(null=True)
    selection_id = BigIntegerField(null=True)
    manual = BooleanField(default=False)
    offer_expires_at = DateTimeTZField(null=True)
    offer_accepted_at = DateTimeTZField(null=True)

    TIMELINE = ("reserved_at", "offered_at", "operator_answered_at", "dial_started_at", "ringing_at",
                "answered_at", "bridged_at", "ended_at", "wrap_up_at")


class AttemptEvent(Base):
    id = BigAutoField()
    attempt = ForeignKeyField(Attempt, column_name="attempt_id", backref="events")
    at = DateTimeTZField(null=True)
    kind = TextField()
    data = BinaryJSONField(default=dict)


class EngineCommand(Base):
    id = BigAutoField()
    operator = ForeignKeyField(Operator, column_name="operator_id")
    kind = TextField()
    payload = BinaryJSONField(default=dict)
    created_at = DateTimeTZField(null=True)
    done_at = DateTimeTZField(null=True)
    error = TextField(null=True)


class CampaignResult(Base):
    id = BigAutoField()
    campaign = ForeignKeyField(Campaign, column_name="campaign_id", backref="results", on_delete="CASCADE")
    code = TextField()
    title = TextField()
    position = IntegerField(default=0)
    closes_lead = BooleanField(default=True)


class DoNotCall(Base):
    phone = TextField(primary_key=True)
    added_at = DateTimeTZField(null=True)
    reason = TextField(default="")
    source = TextField(default="operator")
    attempt_id = BigIntegerField(null=True)


class OperatorSkill(Base):
    operator = ForeignKeyField(Operator, column_name="operator_id", on_delete="CASCADE")
    skill = TextField()
    level = IntegerField()

    class Meta:
        primary_key = CompositeKey("operator", "skill")


class Selection(Base):
    id = BigAutoField()
    campaign = ForeignKeyField(Campaign, column_name="campaign_id", backref="selections", on_delete="CASCADE")
    name = TextField()
    position = IntegerField(default=0)
    enabled = BooleanField(default=True)
    rule = BinaryJSONField()
    version = IntegerField(default=1)
    skill = TextField(null=True)
    skill_level = IntegerField(null=True)
    created_at = DateTimeTZField(null=True)
    updated_at = DateTimeTZField(null=True)


class SelectionVersion(Base):
    selection = ForeignKeyField(Selection, column_name="selection_id", on_delete="CASCADE")
    version = IntegerField()
    name = TextField()
    enabled = BooleanField()
    rule = BinaryJSONField()
    saved_at = DateTimeTZField(null=True)

    class Meta:
        primary_key = CompositeKey("selection", "version")


class MissedOffer(Base):
    id = BigAutoField()
    operator = ForeignKeyField(Operator, column_name="operator_id", on_delete="CASCADE")
    campaign = ForeignKeyField(Campaign, column_name="campaign_id", on_delete="CASCADE")
    lead = ForeignKeyField(Lead, column_name="lead_id", on_delete="CASCADE")
    offered_at = DateTimeTZField()
    missed_at = DateTimeTZField()


class Alert(Base):
    id = BigAutoField()
    kind = TextField()
    campaign = ForeignKeyField(Campaign, column_name="campaign_id", null=True, on_delete="CASCADE")
    operator = ForeignKeyField(Operator, column_name="operator_id", null=True, on_delete="CASCADE")
    text_ru = TextField()
    text_en = TextField()
    created_at = DateTimeTZField(null=True)
    acknowledged_at = DateTimeTZField(null=True)


class ClaimQueue(Base):
    """A selection's next eligible leads in its order, found ahead of the claims (rules/queue.py)."""
    selection_id = BigIntegerField()
    version = IntegerField()
    rank = IntegerField()
    lead_id = BigIntegerField()

    class Meta:
        primary_key = CompositeKey("selection_id", "version", "rank")


ALL = [Campaign, Lead, Operator, OperatorCampaign, Attempt, AttemptEvent, EngineCommand, CampaignResult,
       DoNotCall, OperatorSkill, Selection, SelectionVersion]
ALL += [MissedOffer, Alert, ClaimQueue]


class SipDevice(Base):
    """An operator's or a seat's softphone, as Asterisk reads it through the realtime views (sql/012_devices.sql)."""
    id = BigAutoField()
    login = TextField(unique=True)
    password = TextField()
    server = TextField(default="pbx")
    operator = ForeignKeyField(Operator, column_name="operator_id", null=True, on_delete="SET NULL")
    seat = TextField(null=True)
    codecs = TextField(default="ulaw,alaw")
    transport = TextField(default="udp")
    direct_media = BooleanField(default=False)
    rtp_symmetric = BooleanField(default=True)
    force_rport = BooleanField(default=True)
    rewrite_contact = BooleanField(default=True)
    active = BooleanField(default=True)
    created_at = DateTimeTZField(null=True)
    updated_at = DateTimeTZField(null=True)
    password_set_at = DateTimeTZField(null=True)


ALL += [SipDevice]
