"""Drives one browser tab of the web client through its data-testid hooks (the chat tests)."""

import os

from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = float(os.environ.get("PARLEY_E2E_BROWSER_TIMEOUT", "45"))


def tid(name):
    return f'[data-testid="{name}"]'


class ChatPage:
    """Drives one browser tab of the web client through its data-testid hooks."""

    def __init__(self, driver, base_url, label):
        self.d = driver
        self.base = base_url
        self.label = label

    # -- waiting ------------------------------------------------------------------------

    def wait(self, cond, what, timeout=TIMEOUT):
        def safe(_):
            try:
                return cond()
            except StaleElementReferenceException:
                return False
        return WebDriverWait(self.d, timeout, poll_frequency=0.2).until(
            safe, message=f"[{self.label}] timed out waiting for {what}")

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css):
        els = self.find_all(css)
        return els[0] if els and els[0].is_displayed() else None

    # -- actions ------------------------------------------------------------------------

    def open_site(self):
        self.d.get(self.base + "/")
        self.install_alert_spy()

    def install_alert_spy(self):
        self.d.execute_script(
            "window.__alerts = [];"
            "for (const k of ['alert','confirm','prompt'])"
            "  window[k] = (m) => { window.__alerts.push(String(m)); };")

    def sign_in(self, user):
        self.open_site()
        name = self.wait(lambda: self.visible(tid("signin-name")), "sign-in form")
        name.clear()
        name.send_keys(user)
        self.find(tid("signin-submit")).click()
        self.wait_online()
        assert self.find(tid("me")).text == user

    def wait_online(self):
        self.wait(lambda: self.find(tid("conn-state")).get_attribute("data-state") == "online",
                  "connection state online")

    def start_chat(self, peer):
        """Starts (or opens) the chat with `peer` by typing the user id."""
        box = self.wait(lambda: self.visible(tid("new-chat-input")), "new-chat input")
        box.clear()
        box.send_keys(peer)
        self.find(tid("new-chat-submit")).click()
        self.wait(lambda: self.conv(peer), f"chat with {peer} in the list")
        self.wait_open(peer)

    def conv(self, peer):
        """The list item of the direct conversation with `peer`."""
        els = self.find_all(f'{tid("conv-item")}[data-peer="{peer}"]')
        return els[0] if els else None

    def unread(self, peer):
        item = self.conv(peer)
        return item.get_attribute("data-unread") if item else None

    def wait_unread(self, peer, n):
        self.wait(lambda: self.unread(peer) == str(n), f"{n} unread from {peer}")

    def presence(self, peer):
        item = self.conv(peer)
        if not item:
            return None
        return item.find_element(By.CSS_SELECTOR, tid("presence")).get_attribute("data-status")

    def wait_presence(self, peer, status):
        self.wait(lambda: self.presence(peer) == status, f"{peer} shown {status}")

    def open_conversation(self, peer):
        self.wait(lambda: self.conv(peer), f"chat with {peer}").click()
        self.wait_open(peer)

    def wait_open(self, peer):
        self.wait(lambda: self.find(tid("conv-title")).text == peer, f"conversation with {peer} open")
        self.wait(lambda: self.d.switch_to.active_element.get_attribute("data-testid") == "composer",
                  "focus in the composer")

    def history_state(self):
        return self.find(tid("history-state")).get_attribute("data-state")

    def send(self, text):
        composer = self.wait(lambda: self.visible(tid("composer")), "composer")
        composer.send_keys(text)
        composer.send_keys(Keys.ENTER)
        self.wait(lambda: composer.get_attribute("value") == "", "composer cleared after Enter")

    def bubbles(self):
        """[(body text, own?, status)] of the open conversation, in page order. status: sending |
        sent | delivered | read | failed | received."""
        out = []
        for li in self.find_all(f'{tid("message-list")} {tid("message")}'):
            body = li.find_element(By.CSS_SELECTOR, tid("message-body")).get_attribute("textContent")
            status = li.find_element(By.CSS_SELECTOR, tid("message-status")).get_attribute("data-status")
            out.append((body, li.get_attribute("data-own") == "true", status))
        return out

    def bodies(self):
        return [b[0] for b in self.bubbles()]

    def bubble_with(self, text):
        return [b for b in self.bubbles() if b[0] == text]

    def bubble_element(self, text):
        for li in self.find_all(f'{tid("message-list")} {tid("message")}'):
            if li.find_element(By.CSS_SELECTOR, tid("message-body")).get_attribute("textContent") == text:
                return li
        return None

    def wait_bubble(self, text, own, status=None):
        def ok():
            found = [b for b in self.bubble_with(text) if b[1] == own]
            return bool(found) and (status is None or found[0][2] == status)
        self.wait(ok, f"{'own' if own else 'incoming'} bubble {text!r}"
                      + (f" with status {status}" if status else ""))

    def alerts(self):
        try:
            self.d.switch_to.alert  # a real dialog would mean the spy was bypassed
            return ["<native dialog>"]
        except NoAlertPresentException:
            pass
        return self.d.execute_script("return window.__alerts || []")

    def screenshot(self, path):
        self.d.save_screenshot(str(path))
