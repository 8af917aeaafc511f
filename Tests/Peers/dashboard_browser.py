#!/usr/bin/env python3
"""Drives Rampart's dashboard in headless Chromium (Selenium with Debian's chromium-driver), as a person would.

Usage:
  dashboard_browser.py --url https://127.0.0.1:PORT/ --certificate server.crt --token TOKEN
                       --sip-port PORT --screenshot PATH [--scan COMMAND...]
It signs in with a wrong token (refused) and then the right one, waits for bob's registration and alice's ringing
call (placed by sipp) and a device whose User-Agent is markup, sends a REGISTER whose claimed username is markup
and checks both show as text, runs COMMAND
(a sipvicious scan), waits for the scan's ban beside its events, takes the screenshot, lifts the ban with its
button and ends the call with its button. Prints one JSON object of what it saw; exit 0 when every step was
seen, 1 otherwise (the object says which step failed).
"""
import argparse
import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HOSTILE_USERNAME = '<img src=x onerror="document.title=\'pwned\'">'


def spki_pin(certificate):
    """The base64 SHA-256 of the certificate's public key: Chromium trusts exactly that key, nothing else."""
    key = subprocess.run(["openssl", "x509", "-in", certificate, "-pubkey", "-noout"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=key, check=True,
                         capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def hostile_register(port):
    """REGISTER for alice, then again with digest credentials whose username is markup (and a wrong response)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(3)
    sock.bind(("127.0.0.1", 0))
    local = sock.getsockname()[1]

    def request(cseq, authorization=""):
        message = (
            f"REGISTER sip:localhost SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-dash-{cseq}-{time.time_ns()};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=dash{cseq}\r\nTo: <sip:alice@localhost>\r\n"
            f"Call-ID: dashboard-hostile@127.0.0.1\r\nCSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:alice@127.0.0.1:{local}>\r\nExpires: 60\r\n{authorization}Content-Length: 0\r\n\r\n")
        sock.sendto(message.encode(), ("127.0.0.1", port))
        return sock.recv(65535).decode(errors="replace")

    challenge = request(1)
    match = re.search(r'nonce="([^"]+)"', challenge)
    realm = re.search(r'realm="([^"]+)"', challenge)
    if not match or not realm:
        return challenge.split("\r\n")[0]
    algorithm = re.search(r'algorithm=([A-Za-z0-9-]+)', challenge)
    algorithm = algorithm.group(1) if algorithm else "MD5"
    escaped = HOSTILE_USERNAME.replace("\\", "\\\\").replace('"', '\\"')
    wrong = "0" * (32 if algorithm.upper().startswith("MD5") else 64)
    authorization = (f'Authorization: Digest username="{escaped}", realm="{realm.group(1)}", '
                     f'nonce="{match.group(1)}", uri="sip:localhost", response="{wrong}", algorithm={algorithm}\r\n')
    answer = request(2, authorization)
    sock.close()
    return answer.split("\r\n")[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--certificate", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--sip-port", type=int, required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--hostile-agent", help="the markup User-Agent a registered device sent")
    parser.add_argument("--scan", nargs=argparse.REMAINDER, default=[])
    args = parser.parse_args()

    seen = {"step": "start"}
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="rampart-chromium-")
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1300", f"--user-data-dir={profile}", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking",
                     f"--ignore-certificate-errors-spki-list={spki_pin(args.certificate)}"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Starting Chromium under chromedriver now and then fails on a loaded machine ("session not created"): a
    # second try, and a report either way.
    driver = None
    for attempt in range(3):
        try:
            driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
            break
        except WebDriverException as error:
            seen["driverErrors"] = seen.get("driverErrors", []) + [str(error)[:500]]
            time.sleep(1)
    if driver is None:
        print(json.dumps(seen))
        return 1
    wait = WebDriverWait(driver, 20, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException,))

    def step(name):
        seen["step"] = name

    def cells(table):
        return [row.text for row in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")]

    try:
        step("sign in with a wrong token")
        driver.get(args.url)
        driver.find_element(By.ID, "token").send_keys("rmp_wrong")
        driver.find_element(By.ID, "sign-in").click()
        wait.until(lambda d: "refused" in d.find_element(By.ID, "login-error").text)
        seen["wrongTokenMessage"] = driver.find_element(By.ID, "login-error").text
        seen["tokenInURL"] = args.token in driver.current_url

        step("sign in")
        field = driver.find_element(By.ID, "token")
        field.clear()
        field.send_keys(args.token)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(lambda d: d.find_element(By.ID, "dashboard-view").is_displayed())
        seen["who"] = driver.find_element(By.ID, "who").text
        seen["tokenInStorage"] = driver.execute_script("return sessionStorage.getItem('rampart.token') !== null")
        seen["tokenInCookies"] = any(args.token in cookie.get("value", "") for cookie in driver.get_cookies())

        step("bob's registration")
        wait.until(lambda d: any("sip:bob@localhost" in text for text in cells("registrations")))
        seen["registrations"] = cells("registrations")
        if args.hostile_agent:
            step("markup in a User-Agent")
            wait.until(lambda d: any(args.hostile_agent in text for text in cells("registrations")))
            seen["hostileAgentShownAsText"] = True

        step("alice's call")
        wait.until(lambda d: any("sip:alice@localhost" in text for text in cells("calls")))
        seen["calls"] = cells("calls")

        step("markup in a claimed username")
        seen["hostileRegister"] = hostile_register(args.sip_port)
        wait.until(lambda d: any(HOSTILE_USERNAME in text for text in cells("events")))
        seen["hostileShownAsText"] = True
        seen["injectedImages"] = len(driver.find_elements(By.CSS_SELECTOR, "#events img, #registrations img"))
        seen["title"] = driver.title

        step("the scan's ban")
        if args.scan:
            scan = subprocess.run(args.scan, capture_output=True, text=True, timeout=60)
            seen["scanExit"] = scan.returncode
        banned = "#events tbody tr .tag.banned"
        wait.until(lambda d: any("127.0.0.3" in row.text and row.find_elements(By.CSS_SELECTOR, ".tag.banned")
                                 for row in d.find_elements(By.CSS_SELECTOR, "#events tbody tr")))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#bans tr[data-subject="127.0.0.3"]'))
        seen["bannedEvents"] = len(driver.find_elements(By.CSS_SELECTOR, banned))
        seen["bans"] = cells("bans")
        time.sleep(0.5)  # the fresh rows' highlight fades
        driver.save_screenshot(args.screenshot)

        step("lift the ban")
        driver.find_element(By.CSS_SELECTOR, '#bans button.lift[data-subject="127.0.0.3"]').click()
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '#bans tr[data-subject="127.0.0.3"]'))
        seen["liftedBans"] = cells("bans")

        step("end the call")
        driver.find_element(By.CSS_SELECTOR, "#calls button.end").click()
        wait.until(lambda d: not any("sip:alice@localhost" in text for text in cells("calls")))
        seen["callEnded"] = True
        # Its record reaches the last hour's chart: a failed call (alice was answered 503).
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#traffic-chart rect.failed"))
        seen["failedBars"] = len(driver.find_elements(By.CSS_SELECTOR, "#traffic-chart rect.failed"))

        step("sign out")
        driver.find_element(By.ID, "logout").click()
        wait.until(lambda d: d.find_element(By.ID, "login-view").is_displayed())
        seen["tokenAfterSignOut"] = driver.execute_script("return sessionStorage.getItem('rampart.token')")
        step("done")
    except TimeoutException:
        seen["timedOut"] = True
        seen["page"] = driver.find_element(By.TAG_NAME, "body").text[-3000:]
    except Exception as error:  # any other failure is reported with the step it stopped at, not lost
        seen["error"] = f"{type(error).__name__}: {str(error)[:1000]}"
        try:
            seen["page"] = driver.find_element(By.TAG_NAME, "body").text[-3000:]
        except Exception:
            pass
    finally:
        try:
            seen["consoleErrors"] = [entry["message"] for entry in driver.get_log("browser")
                                     if entry["level"] == "SEVERE"]
            driver.quit()
        except Exception as error:
            seen["quitError"] = str(error)[:500]
    print(json.dumps(seen))
    return 0 if seen["step"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
