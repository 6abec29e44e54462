"""The pages in a real browser (Debian's chromium through Playwright) against a real server.

One journey per language: an HR clerk signs in and enrols a person with the emulated USB scanner,
then a cashier sells to that person at the counter (the palm pays), sees a decline for an unknown
palm with its reason, and voids the sale; a payroll officer computes and submits a run, which a
second user approves and posts; the approver downloads a payslip and the bank file and opens each
report; at the pay point a wrong palm is refused with the reason and the employee's own palm
releases the salary in cash. Along the way axe checks the pages for critical accessibility
violations, and screenshots are written under ``test-output/enrollment_ui/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from palmvein.core.db import unit_of_work, utcnow
from palmvein.core.money import Money
from payments import service
from payments.policy import DEFAULT_POLICY
from payroll import sample
from payroll import service as payroll_service

from .conftest import PASSWORD, PAY_POINT, LiveServer

# A distinct simulated palm per language run, so each journey enrols a new person.
PALMS = {"ar": 11, "fr": 12}
PERIODS = {"ar": "2026-03", "fr": "2026-04"}
UNKNOWN_PALM = 97
HEADINGS = {
    "ar": {"persons": "الأشخاص والتسجيل", "counter": "صندوق التاجر", "declined": "مرفوض",
           "approved": "موافق عليها", "posted": "مُرحَّلة", "paypoint": "نقطة الدفع",
           "not_released": "لم يُصرف", "no_match": "لم يتم التعرف على الكف",
           "released": "تم صرف الراتب", "unclaimed": "رواتب غير مستلمة"},
    "fr": {"persons": "Personnes et enrôlement", "counter": "Caisse du commerçant",
           "declined": "Refusé", "approved": "approuvée", "posted": "comptabilisée",
           "paypoint": "Point de paiement", "not_released": "Non versé",
           "no_match": "la paume n'a pas été reconnue", "released": "Salaire versé",
           "unclaimed": "Salaires non retirés"},
}
_AXE = Axe()


def _scanner(identity: int, session: int = 0) -> str:
    return f"usb-emulated://?hand_at=80&identity={identity}&session={session}"


def _no_critical_violations(page: Any, where: str) -> None:
    results = _AXE.run(page)
    critical = [v for v in results.response["violations"] if v.get("impact") == "critical"]
    assert critical == [], f"{where}: " + "; ".join(
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in critical)


def _sign_in(page: Any, server: LiveServer, username: str) -> None:
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")


def _fund_wallet(server: LiveServer, person_id: str, major: str) -> None:
    """What a cash-in agent does for the new person (the pages have no agent screens)."""
    tag = person_id[:8]
    now = utcnow()
    with unit_of_work(server.factory()) as session:
        agent = service.open_agent_account(session, agent_id=f"agent-{tag}", currency="DZD",
                                           now=now)
        wallet = service.open_wallet(session, person_id=person_id, currency="DZD",
                                     phone="+213555000111", now=now)
        service.fund_agent(session, DEFAULT_POLICY, agent_account_id=agent.id,
                           amount=Money.of(major, "DZD"), initiator="test", now=now)
        service.cash_in(session, DEFAULT_POLICY, agent_account_id=agent.id,
                        wallet_account_id=wallet.id, amount=Money.of(major, "DZD"),
                        initiator="test", now=now)


def _hire(server: LiveServer, person_id: str, language: str) -> str:
    """HR's employee file: the enrolled person becomes an employee paid in cash at the pay
    point (no bank account). Returns the employee number."""
    rows = sample.employee_rows(1, seed=len(language) + ord(language[0]),
                                prefix=f"{language.upper()}-", subject_ids=[person_id])
    rows[0].update(pay_point=PAY_POINT, account_scheme="", account_number="")
    with unit_of_work(server.factory()) as session:
        payroll_service.import_file(
            session, sample.write_csv(server.log.parent / f"hire-{language}.csv", rows),
            currency="DZD", actor="test", now=utcnow())
    return rows[0]["employee_number"]


def _download(page: Any, selector: str, folder: Path) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    target = folder / download.suggested_filename
    download.save_as(str(target))
    return target.read_bytes()


@pytest.mark.browser
@pytest.mark.parametrize("language", ["ar", "fr"])
def test_enrol_pay_and_void_in_the_browser(
    live_server: LiveServer, browser: Any, screenshots: Path, language: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm before re-enrol/void
    words = HEADINGS[language]
    try:
        # Not signed in: the page sends us to the login page, where we switch language.
        page.goto(f"{live_server.url}/ui/persons")
        assert "/ui/login" in page.url
        page.click(f".languages a[hreflang={language}]")
        page.wait_for_selector(f"html[lang={language}]")
        direction = "rtl" if language == "ar" else "ltr"
        assert page.get_attribute("html", "dir") == direction
        page.screenshot(path=str(screenshots / "1-login.png"))
        _no_critical_violations(page, "login")
        # Mirrored layout: the brand sits at the start of the bar (right in Arabic).
        brand = page.locator(".brand").bounding_box()
        assert brand is not None
        assert (brand["x"] > 640) == (language == "ar")

        _sign_in(page, live_server, "clerk")
        page.wait_for_url("**/ui/persons")
        assert page.locator("h1").inner_text() == words["persons"]
        page.fill("#display_name", f"Nadia Test {language}")
        page.fill("#external_ref", f"EMP-{language}-001")
        page.click("form[hx-post$='/ui/persons'] button[type=submit]")
        page.wait_for_url("**/ui/persons/*")
        person_id = page.url.rsplit("/", 1)[1]

        page.fill("#scanner", _scanner(PALMS[language]))
        capture = page.locator("#capture button.primary")
        for count in (1, 2, 3):
            capture.click()
            page.wait_for_function(
                f"document.querySelectorAll('#samples-right figure').length === {count}")
        assert page.locator("#samples-right figure.good").count() == 3
        assert page.locator("#samples-right meter").first.get_attribute("value") is not None
        page.screenshot(path=str(screenshots / "2-enrolment.png"), full_page=True)
        _no_critical_violations(page, "enrolment with samples")
        page.click("#enrolment button[type=submit]")
        page.wait_for_selector("#outcome .message.success")
        page.screenshot(path=str(screenshots / "3-enrolled.png"), full_page=True)
        employee_number = _hire(live_server, person_id, language)

        _fund_wallet(live_server, person_id, "50000")
        page.click("header button.link")  # sign out
        page.wait_for_url("**/ui/login")
        _sign_in(page, live_server, "cashier")
        page.wait_for_url("**/ui/counter")
        assert page.locator("h1").inner_text() == words["counter"]

        # An unknown palm is declined with its reason, and nothing is charged.
        page.fill("#amount", "250")
        page.fill("#scanner", _scanner(UNKNOWN_PALM))
        for _attempt in range(3):
            # A poor capture is explained in the message area; the cashier asks again.
            page.evaluate("document.querySelector('#messages').innerHTML = ''")
            page.click("#sale button[type=submit]")
            page.wait_for_selector("#result .message.error, #messages .message")
            if page.locator("#result .message.error").count():
                break
        assert words["declined"] in page.locator("#result").inner_text()
        page.screenshot(path=str(screenshots / "4-declined.png"), full_page=True)

        # The enrolled palm pays (a new form key: a reload draws the form afresh).
        page.reload()
        page.fill("#amount", "1200")
        page.fill("#scanner", _scanner(PALMS[language], session=1))
        page.click("#sale button[type=submit]")
        page.wait_for_selector("#result .message.success")
        receipt = page.locator("#result").inner_text()
        assert "1" in receipt and ("200" in receipt)
        page.screenshot(path=str(screenshots / "5-paid.png"), full_page=True)
        _no_critical_violations(page, "counter with receipt")

        sale_id = page.locator("#result code").first.inner_text().strip()
        page.click("#result form[hx-post$='/void'] button")
        page.wait_for_selector("#result [id^=undo-] .message.success")
        page.screenshot(path=str(screenshots / "6-voided.png"), full_page=True)

        # The day's table shows the sale and its void.
        page.reload()
        assert page.locator(f"table tbody a[href$='{sale_id}']").count() == 1
        assert page.locator("table tbody tr").count() >= 2
        page.screenshot(path=str(screenshots / "7-day.png"), full_page=True)
        _no_critical_violations(page, "counter day")

        # Payroll: one officer prepares and submits, a second user approves.
        page.click("header button.link")
        page.wait_for_url("**/ui/login")
        _sign_in(page, live_server, "officer")
        page.wait_for_url("**/ui/payroll")
        page.fill("#period", PERIODS[language])
        page.click("form[hx-post$='/ui/payroll/runs'] button")
        page.wait_for_url("**/ui/payroll/runs/*")
        run_url = page.url
        page.click("button[hx-post$='/compute']")
        page.wait_for_selector("button[hx-post$='/submit']")
        page.screenshot(path=str(screenshots / "8-payroll-preview.png"), full_page=True)
        _no_critical_violations(page, "payroll preview")
        page.click("button[hx-post$='/submit']")
        page.wait_for_function("!document.querySelector(\"button[hx-post$='/submit']\")")
        page.click("header button.link")
        page.wait_for_url("**/ui/login")
        _sign_in(page, live_server, "approver")
        page.wait_for_url("**/ui/payroll")
        page.goto(run_url)
        page.click("button[hx-post$='/approve']")
        page.wait_for_selector("button[hx-post$='/post']")
        assert words["approved"] in page.locator("h1").inner_text()
        page.screenshot(path=str(screenshots / "9-payroll-approved.png"), full_page=True)

        # The approver posts the net pay: each salary is held; the documents are final.
        page.click("button[hx-post$='/post']")
        page.wait_for_selector("#paid-out")
        assert words["posted"] in page.locator("h1").inner_text()
        _no_critical_violations(page, "posted run with documents")
        payslips = _download(page, "a[href$='/payslips.pdf']", screenshots)
        assert payslips.startswith(b"%PDF")
        page.fill("#payslip-employee", employee_number)
        one = _download(page, "form[action$='/payslip.pdf'] button", screenshots)
        assert one.startswith(b"%PDF")
        page.click("button[hx-post$='/bank-file']")  # CSV: books the bank salaries once
        page.wait_for_selector("a[href$='/bank.csv']")
        bank = _download(page, "a[href$='/bank.csv']", screenshots)
        assert bank.count(b"\n") >= 2  # a header and at least one transfer
        page.screenshot(path=str(screenshots / "10-payroll-posted.png"), full_page=True)

        # Each report.
        page.click("nav a[href$='/ui/reports']")
        page.wait_for_url("**/ui/reports")
        _no_critical_violations(page, "reports")
        page.fill("#days", "0")
        page.click("form[action$='/unclaimed'] button")
        page.wait_for_url("**/ui/reports/unclaimed?days=0")
        assert words["unclaimed"] in page.locator("h1").inner_text()
        assert employee_number in page.locator("table").inner_text()
        page.screenshot(path=str(screenshots / "11-report-unclaimed.png"), full_page=True)
        _no_critical_violations(page, "unclaimed report")
        for name, path in (("12-report-shared", "shared-palms"),
                           ("13-report-never", "never-enrolled")):
            page.goto(f"{live_server.url}/ui/reports/{path}")
            assert page.locator("table").count() == 1
            page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
            _no_critical_violations(page, path)
        page.goto(f"{live_server.url}/ui/reports/history?employee_number={employee_number}")
        assert PERIODS[language] in page.locator("table").inner_text()

        # At the pay point: a wrong palm is refused with the reason, the own palm releases.
        page.click("header button.link")
        page.wait_for_url("**/ui/login")
        _sign_in(page, live_server, "cashier")
        page.wait_for_url("**/ui/counter")
        page.click("nav a[href$='/ui/paypoint']")
        page.wait_for_url("**/ui/paypoint")
        assert page.locator("h1").inner_text() == words["paypoint"]
        page.fill("#employee_number", employee_number)
        page.wait_for_selector("#employee dl.facts")
        page.fill("#scanner", _scanner(UNKNOWN_PALM, session=2))
        for _attempt in range(3):
            page.evaluate("document.querySelector('#messages').innerHTML = '';"
                          "document.querySelector('#employee').innerHTML = ''")
            page.click("#claim button.primary")
            page.wait_for_selector("#employee .message.error, #messages .message")
            if page.locator("#employee .message.error").count():
                break
        refusal = page.locator("#employee .message.error").inner_text()
        assert words["not_released"] in refusal and words["no_match"] in refusal
        page.screenshot(path=str(screenshots / "14-paypoint-refused.png"), full_page=True)
        _no_critical_violations(page, "pay point refusal")
        page.fill("#scanner", _scanner(PALMS[language], session=2))
        for _attempt in range(3):
            page.evaluate("document.querySelector('#messages').innerHTML = '';"
                          "document.querySelector('#employee').innerHTML = ''")
            page.click("#claim button.primary")
            page.wait_for_selector("#employee .message, #messages .message")
            if page.locator("#employee .message.success").count():
                break
        assert words["released"] in page.locator("#employee .message.success").inner_text()
        page.screenshot(path=str(screenshots / "15-paypoint-released.png"), full_page=True)
        _no_critical_violations(page, "pay point release")
    finally:
        context.close()
