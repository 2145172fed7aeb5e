"""The permission catalogue (SPEC H1): exactly 47 named permissions, one per action, and six roles.

Every page and API route names one of these (or PUBLIC) in its `opt={"permission": ...}`; one guard
checks it. Titles are Russian first, English second; `area` groups them on the roles page.
"""
from __future__ import annotations

from dataclasses import dataclass

PUBLIC = "public"  # sign-in page, health, static assets: no permission needed


@dataclass(frozen=True)
class Permission:
    name: str
    area: str
    title_ru: str
    title_en: str


AREAS = {
    "panel": ("Панель оператора", "Operator panel"),
    "supervisor": ("Супервайзер", "Supervisor"),
    "campaigns": ("Кампании и выборки", "Campaigns and selections"),
    "leads": ("Заказы и поиск", "Orders and search"),
    "operators": ("Операторы", "Operators"),
    "telephony": ("Телефония", "Telephony"),
    "crm": ("CRM", "CRM"),
    "reports": ("Отчёты и мониторинг", "Reports and monitoring"),
    "access": ("Доступ", "Access"),
}

CATALOGUE: tuple[Permission, ...] = (
    # operator panel: the operator's own shift
    Permission("panel.use", "panel", "Работать в панели оператора", "Use the operator panel"),
    Permission("panel.status", "panel", "Менять свой статус (Готов, Пауза, Обед)", "Change own status (Ready, Pause, Lunch)"),
    Permission("panel.call_control", "panel", "Отвечать и завершать свои звонки", "Answer and hang up own calls"),
    Permission("panel.wrap_up", "panel", "Заполнять постобработку своих звонков", "Complete wrap-up of own calls"),
    Permission("panel.manual_dial", "panel", "Ручной набор по номеру или заказу", "Manual dial by number or order"),
    # supervisor
    Permission("supervisor.view", "supervisor", "Видеть панель супервайзера", "View the supervisor dashboard"),
    Permission("supervisor.operator_control", "supervisor", "Принудительно менять статус оператора", "Force an operator's status"),
    Permission("supervisor.campaign_control", "supervisor", "Останавливать и запускать кампании, подтверждать автостоп", "Pause and resume campaigns, confirm autostop"),
    Permission("supervisor.alerts", "supervisor", "Видеть и закрывать оповещения", "See and acknowledge alerts"),
    Permission("calls.read", "supervisor", "Открывать карточку любого звонка", "Open the card of any call"),
    Permission("recordings.listen", "supervisor", "Слушать записи разговоров", "Listen to call recordings"),
    # campaigns and selection rules
    Permission("campaigns.read", "campaigns", "Видеть кампании", "View campaigns"),
    Permission("campaigns.create", "campaigns", "Создавать кампании", "Create campaigns"),
    Permission("campaigns.update", "campaigns", "Изменять кампании и их результаты", "Edit campaigns and their results"),
    Permission("campaigns.delete", "campaigns", "Удалять кампании", "Delete campaigns"),
    Permission("rules.read", "campaigns", "Видеть выборки и причины простоя", "View selections and why nothing dials"),
    Permission("rules.edit", "campaigns", "Создавать, изменять и упорядочивать выборки", "Create, edit and reorder selections"),
    # orders (leads)
    Permission("leads.read", "leads", "Искать и просматривать заказы", "Search and view orders"),
    Permission("leads.import", "leads", "Импортировать заказы из файла", "Import orders from a file"),
    Permission("leads.update", "leads", "Изменять и откладывать заказы", "Edit and postpone orders"),
    Permission("leads.delete", "leads", "Удалять заказы", "Delete orders"),
    Permission("dnc.read", "leads", "Видеть список «Больше не звонить»", "View the do-not-call list"),
    Permission("dnc.edit", "leads", "Изменять список «Больше не звонить»", "Edit the do-not-call list"),
    # operators and pools
    Permission("operators.read", "operators", "Видеть операторов", "View operators"),
    Permission("operators.create", "operators", "Создавать операторов", "Create operators"),
    Permission("operators.update", "operators", "Изменять операторов и навыки", "Edit operators and skills"),
    Permission("operators.delete", "operators", "Удалять операторов", "Delete operators"),
    Permission("operators.pools", "operators", "Изменять пулы кампаний", "Edit campaign pools"),
    # telephony
    Permission("sip.read", "telephony", "Видеть SIP-устройства и регистрацию", "View SIP devices and registration"),
    Permission("sip.edit", "telephony", "Создавать и привязывать SIP-устройства", "Create and bind SIP devices"),
    Permission("telephony.settings", "telephony", "Изменять настройки телефонии", "Edit telephony settings"),
    # CRM
    Permission("crm.read", "crm", "Видеть подключения CRM, журнал импорта и доставку", "View CRM connections, import log and delivery"),
    Permission("crm.edit", "crm", "Изменять подключение CRM и соответствие статусов", "Edit the CRM connection and status mapping"),
    Permission("crm.sync", "crm", "Запускать синхронизацию и повторную доставку", "Run a sync and retry delivery"),
    Permission("crm.push", "crm", "Передавать заказы во входящий API", "Push orders to the inbound API"),
    # reports and monitoring
    Permission("reports.read", "reports", "Смотреть отчёты", "View reports"),
    Permission("reports.export", "reports", "Выгружать отчёты (CSV, XLSX, PDF)", "Export reports (CSV, XLSX, PDF)"),
    Permission("monitoring.read", "reports", "Смотреть мониторинг системы", "View system monitoring"),
    # access
    Permission("users.read", "access", "Видеть пользователей", "View users"),
    Permission("users.create", "access", "Создавать пользователей", "Create users"),
    Permission("users.update", "access", "Изменять пользователей и их роли", "Edit users and their roles"),
    Permission("users.deactivate", "access", "Отключать пользователей", "Deactivate users"),
    Permission("users.delete", "access", "Удалять пользователей", "Delete users"),
    Permission("roles.read", "access", "Видеть роли и права", "View roles and permissions"),
    Permission("roles.edit", "access", "Изменять права ролей и пользователей", "Edit role and user permissions"),
    Permission("audit.read", "access", "Смотреть журнал действий", "View the audit log"),
    Permission("audit.export", "access", "Выгружать журнал действий", "Export the audit log"),
)

BY_NAME = {p.name: p for p in CATALOGUE}
assert len(CATALOGUE) == 47 and len(BY_NAME) == 47, "SPEC H1: exactly 47 permissions"
assert all(p.area in AREAS for p in CATALOGUE)

ALL = frozenset(BY_NAME)
READ_ONLY = frozenset(n for n in ALL if n.endswith(".read") or n in {"supervisor.view", "rules.read"})
OPERATOR = frozenset({"panel.use", "panel.status", "panel.call_control", "panel.wrap_up", "panel.manual_dial"})
SUPERVISOR = (ALL - {"users.create", "users.update", "users.deactivate", "users.delete", "roles.edit",
                     "audit.export", "telephony.settings", "crm.edit", "campaigns.delete", "leads.delete",
                     "operators.delete", "crm.push", "monitoring.read"}) - OPERATOR

# the six seeded roles: (code, Russian, English, permissions)
ROLES: tuple[tuple[str, str, str, frozenset[str]], ...] = (
    ("admin", "Администратор", "Administrator", ALL - {"crm.push"}),
    ("supervisor", "Супервайзер", "Supervisor", SUPERVISOR),
    ("operator", "Оператор", "Operator", OPERATOR),
    ("sysadmin", "Системный администратор", "System administrator", ALL),
    ("syssupervisor", "Системный супервайзер", "System supervisor", SUPERVISOR | {"monitoring.read"}),
    ("tester", "Системный тестировщик", "System tester", READ_ONLY),
)
