"""The request form's problems in the shopkeeper's words (the service gives codes)."""

from __future__ import annotations

from fabqueue.quotes.public_requests import Problem
from fabqueue.web.page import Page
from fabqueue.web.problems import in_words


def _kind(page: Page, actual: str) -> str:
    kinds = {
        "exe": page.gettext("a Windows program"),
        "elf": page.gettext("a program"),
        "script": page.gettext("a script"),
        "png": page.gettext("a PNG image"),
        "jpeg": page.gettext("a JPEG photo"),
        "gif": page.gettext("a GIF image"),
        "pdf": page.gettext("a PDF document"),
        "zip": page.gettext("a ZIP archive"),
        "binary": page.gettext("not text"),
    }
    return kinds.get(actual, page.gettext("something else"))


def _size(page: Page, limit: int) -> str:
    return page.gettext("%(size)s MB", size=page.fmt.number(limit / 1_000_000, 0))


def _file_words(page: Page, problem: Problem) -> str | None:
    v = problem.values
    if problem.code == "file_disguised":
        return page.gettext(
            "%(name)s is not a real %(claimed)s file: it contains %(actual)s. Nothing was "
            "kept; send the drawing itself.",
            name=v["name"],
            claimed=v["claimed"],
            actual=_kind(page, v["actual"]),
        )
    if problem.code == "file_too_large":
        return page.gettext(
            "%(name)s is too large (at most %(size)s per file).",
            name=v["name"],
            size=_size(page, v["limit"]),
        )
    if problem.code == "file_refused":
        return page.gettext(
            "%(name)s cannot be made here: %(reason)s",
            name=v["name"],
            reason=in_words(v["reason"], page.gettext, page.lang),
        )
    if problem.code == "too_many_files":
        return page.gettext("At most %(max)s files per request.", max=v["max"])
    return None


def say(page: Page, problem: Problem) -> str:
    """One problem, in words, to show beside its field."""
    file_words = _file_words(page, problem)
    if file_words is not None:
        return file_words
    v = problem.values
    words = {
        "organisation_missing": page.gettext("Give the name of your shop or organisation."),
        "siret_length": page.gettext(
            "A SIRET has 14 digits (see your Kbis or your INSEE notice); leave it empty if "
            "you have none."
        ),
        "siret_key": page.gettext("This SIRET's check digit is wrong: look for a typo."),
        "address_missing": page.gettext(
            "Give your postal address: a quote must show it (street, postcode and town)."
        ),
        "contact_missing": page.gettext("Give the name of the person we should answer."),
        "email_missing": page.gettext("Give an e-mail address: the quote is sent there."),
        "email_invalid": page.gettext("This e-mail address does not look right."),
        "phone_invalid": page.gettext("This phone number does not look right."),
        "wants_missing": page.gettext("Choose what you would like us to make."),
        "date_past": page.gettext("This date has passed: choose a later one."),
        "date_far": page.gettext("Choose a date within the next two years."),
        "consent_missing": page.gettext(
            "Tick the box so that we may keep your details for this quote: without it we "
            "cannot answer you."
        ),
    }
    if problem.code == "too_long":
        return page.gettext("At most %(max)s characters.", max=v["max"])
    if problem.code == "quantity_range":
        return page.gettext("How many: a whole number from 1 to %(max)s.", max=v["max"])
    return words.get(problem.code, problem.code)
