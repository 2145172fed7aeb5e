"""The client's IANA time zone (SPEC C5): from the order's city or region where we know it, else from
the phone number when its numbering area has one zone, else the installation's default. Never a
fixed UTC offset. The source is recorded with the zone ('city', 'region', 'phone', 'default').
"""
from __future__ import annotations

import re

import phonenumbers

from .model import valid_zone

DEFAULT_ZONE = "Europe/Moscow"

# names as people write them in orders, normalised by `_key` (lower case, ё → е, without "г.", "область", ...)
CITIES = {
    "москва": "Europe/Moscow", "moscow": "Europe/Moscow", "санкт-петербург": "Europe/Moscow", "спб": "Europe/Moscow",
    "петербург": "Europe/Moscow", "saint petersburg": "Europe/Moscow", "нижний новгород": "Europe/Moscow",
    "казань": "Europe/Moscow", "ростов-на-дону": "Europe/Moscow", "краснодар": "Europe/Moscow",
    "воронеж": "Europe/Moscow", "тверь": "Europe/Moscow", "ярославль": "Europe/Moscow", "сочи": "Europe/Moscow",
    "волгоград": "Europe/Volgograd", "калининград": "Europe/Kaliningrad", "самара": "Europe/Samara",
    "тольятти": "Europe/Samara", "ижевск": "Europe/Samara", "ульяновск": "Europe/Ulyanovsk",
    "саратов": "Europe/Saratov", "астрахань": "Europe/Astrakhan", "киров": "Europe/Kirov",
    "екатеринбург": "Asia/Yekaterinburg", "yekaterinburg": "Asia/Yekaterinburg", "челябинск": "Asia/Yekaterinburg",
    "пермь": "Asia/Yekaterinburg", "уфа": "Asia/Yekaterinburg", "тюмень": "Asia/Yekaterinburg",
    "оренбург": "Asia/Yekaterinburg", "сургут": "Asia/Yekaterinburg", "омск": "Asia/Omsk",
    "новосибирск": "Asia/Novosibirsk", "novosibirsk": "Asia/Novosibirsk", "томск": "Asia/Tomsk",
    "барнаул": "Asia/Barnaul", "кемерово": "Asia/Novokuznetsk", "новокузнецк": "Asia/Novokuznetsk",
    "красноярск": "Asia/Krasnoyarsk", "иркутск": "Asia/Irkutsk", "улан-удэ": "Asia/Irkutsk",
    "чита": "Asia/Chita", "якутск": "Asia/Yakutsk", "благовещенск": "Asia/Yakutsk",
    "владивосток": "Asia/Vladivostok", "vladivostok": "Asia/Vladivostok", "хабаровск": "Asia/Vladivostok",
    "южно-сахалинск": "Asia/Sakhalin", "магадан": "Asia/Magadan", "петропавловск-камчатский": "Asia/Kamchatka",
    "анадырь": "Asia/Anadyr", "минск": "Europe/Minsk", "алматы": "Asia/Almaty", "астана": "Asia/Almaty",
    "киев": "Europe/Kyiv", "ташкент": "Asia/Tashkent", "берлин": "Europe/Berlin", "berlin": "Europe/Berlin",
}
REGIONS = {
    "москва": "Europe/Moscow", "московская": "Europe/Moscow", "санкт-петербург": "Europe/Moscow",
    "ленинградская": "Europe/Moscow", "тверская": "Europe/Moscow", "нижегородская": "Europe/Moscow",
    "татарстан": "Europe/Moscow", "краснодарский": "Europe/Moscow", "ростовская": "Europe/Moscow",
    "воронежская": "Europe/Moscow", "ярославская": "Europe/Moscow", "крым": "Europe/Simferopol",
    "калининградская": "Europe/Kaliningrad", "самарская": "Europe/Samara", "удмуртия": "Europe/Samara",
    "удмуртская": "Europe/Samara", "волгоградская": "Europe/Volgograd", "саратовская": "Europe/Saratov",
    "ульяновская": "Europe/Ulyanovsk", "астраханская": "Europe/Astrakhan", "кировская": "Europe/Kirov",
    "свердловская": "Asia/Yekaterinburg", "челябинская": "Asia/Yekaterinburg", "пермский": "Asia/Yekaterinburg",
    "башкортостан": "Asia/Yekaterinburg", "тюменская": "Asia/Yekaterinburg", "оренбургская": "Asia/Yekaterinburg",
    "курганская": "Asia/Yekaterinburg", "ханты-мансийский": "Asia/Yekaterinburg", "ямало-ненецкий": "Asia/Yekaterinburg",
    "омская": "Asia/Omsk", "новосибирская": "Asia/Novosibirsk", "томская": "Asia/Tomsk", "алтайский": "Asia/Barnaul",
    "алтай": "Asia/Barnaul", "кемеровская": "Asia/Novokuznetsk", "кузбасс": "Asia/Novokuznetsk",
    "красноярский": "Asia/Krasnoyarsk", "хакасия": "Asia/Krasnoyarsk", "тыва": "Asia/Krasnoyarsk",
    "иркутская": "Asia/Irkutsk", "бурятия": "Asia/Irkutsk", "забайкальский": "Asia/Chita",
    "амурская": "Asia/Yakutsk", "приморский": "Asia/Vladivostok", "хабаровский": "Asia/Vladivostok",
    "еврейская": "Asia/Vladivostok", "сахалинская": "Asia/Sakhalin", "магаданская": "Asia/Magadan",
    "камчатский": "Asia/Kamchatka", "чукотский": "Asia/Anadyr",
}
_NOISE = re.compile(r"\b(г|город|гор|обл|область|край|республика|респ|автономный|округ|ао)\b\.?", re.IGNORECASE)


def _key(name: str) -> str:
    text = name.lower().replace("ё", "е")
    text = _NOISE.sub(" ", text)
    return " ".join(text.replace(".", " ").replace(",", " ").split())


def resolve(region: str, city: str, phone: str | None, default: str = DEFAULT_ZONE) -> tuple[str, str]:
    """(IANA zone, source): the city, then the region, then the number, then the default."""
    if city and (zone := CITIES.get(_key(city))):
        return zone, "city"
    if region and (zone := REGIONS.get(_key(region))):
        return zone, "region"
    if phone:
        from phonenumbers import timezone as phone_zones  # large tables: loaded by the first import, not at start

        try:
            zones = phone_zones.time_zones_for_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            zones = ()
        if len(zones) == 1 and valid_zone(zones[0]):
            return zones[0], "phone"
    return default, "default"
