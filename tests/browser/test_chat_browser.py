"""Two people chat through the web client in real headless Chromium, across two edges.

alice uses edge 1, bob uses edge 2. They sign in by name (dev login), add each other, see each
other online, exchange messages both ways (receiver shows the message, sender shows
"delivered"); an HTML payload stays literal text. Then bob's browser is closed, alice sends
three messages (shown "sent", bob shown offline), and bob signs in again in a fresh browser and
gets all three, in order, exactly once. Also: alice reloads (history kept, no duplicates) and
the phone-width layout shows the composer.

Only explicit waits on page state; no timing is asserted.
"""

import os
import secrets

from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = float(os.environ.get("PARLEY_E2E_BROWSER_TIMEOUT", "45"))
XSS = "<img src=x onerror=alert(1)>"


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

    def add_contact(self, peer):
        box = self.wait(lambda: self.visible(tid("contact-add-input")), "add-contact input")
        box.clear()
        box.send_keys(peer)
        self.find(tid("contact-add-submit")).click()
        self.wait(lambda: self.contact(peer), f"contact {peer} in the list")

    def contact(self, peer):
        els = self.find_all(f'{tid("contact-item")}[data-user="{peer}"]')
        return els[0] if els else None

    def presence(self, peer):
        item = self.contact(peer)
        if not item:
            return None
        return item.find_element(By.CSS_SELECTOR, tid("presence")).get_attribute("data-status")

    def wait_presence(self, peer, status):
        self.wait(lambda: self.presence(peer) == status, f"{peer} shown {status}")

    def open_conversation(self, peer):
        self.wait(lambda: self.contact(peer), f"contact {peer}").click()
        self.wait(lambda: self.find(tid("conv-title")).text == peer, f"conversation with {peer} open")
        self.wait(lambda: self.d.switch_to.active_element.get_attribute("data-testid") == "composer",
                  "focus in the composer")

    def send(self, text):
        composer = self.wait(lambda: self.visible(tid("composer")), "composer")
        composer.send_keys(text)
        composer.send_keys(Keys.ENTER)
        self.wait(lambda: composer.get_attribute("value") == "", "composer cleared after Enter")

    def bubbles(self):
        """[(body text, own?, status)] of the open conversation, in page order."""
        out = []
        for li in self.find_all(f'{tid("message-list")} {tid("message")}'):
            body = li.find_element(By.CSS_SELECTOR, tid("message-body")).get_attribute("textContent")
            status = li.find_element(By.CSS_SELECTOR, tid("message-status")).get_attribute("data-status")
            out.append((body, li.get_attribute("data-own") == "true", status))
        return out

    def bubble_with(self, text):
        return [b for b in self.bubbles() if b[0] == text]

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


def test_two_people_chat_across_edges(browsers, edge1_url, edge2_url, artifacts):
    run = secrets.token_hex(3)
    alice_id, bob_id = f"alice-{run}", f"bob_{run}"

    alice = ChatPage(browsers.new("alice"), edge1_url, "alice")
    bob = ChatPage(browsers.new("bob"), edge2_url, "bob")

    # The sign-in form refuses malformed ids before asking the server.
    alice.open_site()
    alice.wait(lambda: alice.visible(tid("signin-name")), "sign-in form").send_keys("not valid!")
    alice.find(tid("signin-submit")).click()
    alice.wait(lambda: alice.find(tid("signin-error")).text != "", "sign-in error for a bad id")

    alice.sign_in(alice_id)
    bob.sign_in(bob_id)

    # Add-contact validation, then add each other and see each other online.
    alice.find(tid("contact-add-input")).send_keys("no spaces allowed")
    alice.find(tid("contact-add-submit")).click()
    alice.wait(lambda: alice.find(tid("contact-add-error")).text != "", "add-contact error")
    alice.add_contact(bob_id)
    bob.add_contact(alice_id)
    alice.wait_presence(bob_id, "online")
    bob.wait_presence(alice_id, "online")
    alice.open_conversation(bob_id)
    bob.open_conversation(alice_id)
    assert alice.find(tid("conv-presence")).get_attribute("data-status") == "online"

    # alice → bob and bob → alice: the receiver shows it, the sender shows "delivered".
    hello = f"Hello bob, this is alice ({run})"
    alice.send(hello)
    bob.wait_bubble(hello, own=False)
    alice.wait_bubble(hello, own=True, status="delivered")

    # Shift+Enter adds a newline; Enter sends the two-line message.
    first_line, reply = f"Hi alice! Bob here ({run})", f"Hi alice! Bob here ({run})\nsecond line"
    composer = bob.find(tid("composer"))
    composer.send_keys(first_line)
    composer.send_keys(Keys.SHIFT, Keys.ENTER)
    composer.send_keys("second line")
    assert composer.get_attribute("value") == reply
    composer.send_keys(Keys.ENTER)
    alice.wait_bubble(reply, own=False)
    bob.wait_bubble(reply, own=True, status="delivered")

    # HTML in a message is shown as text and never becomes an element.
    alice.install_alert_spy()
    bob.install_alert_spy()
    alice.send(XSS)
    bob.wait_bubble(XSS, own=False)
    alice.wait_bubble(XSS, own=True, status="delivered")
    for page in (alice, bob):
        assert page.find_all(f'{tid("message-list")} img') == []
        assert page.alerts() == []
        assert XSS in page.find(tid("message-list")).text

    alice.screenshot(artifacts / "chat-alice.png")
    bob.screenshot(artifacts / "chat-bob.png")

    # bob leaves; alice sends three messages while he is away.
    browsers.close("bob")
    alice.wait_presence(bob_id, "offline")
    offline_msgs = [f"while you were away {i}/3 ({run})" for i in (1, 2, 3)]
    for text in offline_msgs:
        alice.send(text)
    for text in offline_msgs:
        alice.wait_bubble(text, own=True, status="sent")
    assert alice.presence(bob_id) == "offline"
    assert alice.find(tid("conv-presence")).get_attribute("data-status") == "offline"

    # bob comes back in a fresh browser (no local history) on edge 2.
    bob2 = ChatPage(browsers.new("bob2"), edge2_url, "bob2")
    bob2.sign_in(bob_id)
    bob2.wait(lambda: bob2.contact(alice_id), "alice in bob's contacts from the replay")
    bob2.wait(lambda: bob2.contact(alice_id).get_attribute("data-unread") == "3",
              "3 unread from alice")
    bob2.wait_presence(alice_id, "online")  # contacts learned from the replay are watched too
    bob2.open_conversation(alice_id)
    for text in offline_msgs:
        bob2.wait_bubble(text, own=False)
    alice.wait_presence(bob_id, "online")
    for text in offline_msgs:
        alice.wait_bubble(text, own=True, status="delivered")  # bob acked them
    bodies = [b[0] for b in bob2.bubbles()]
    assert [b for b in bodies if b in offline_msgs] == offline_msgs, bodies
    for text in offline_msgs:
        assert bodies.count(text) == 1, bodies
    assert bob2.contact(alice_id).get_attribute("data-unread") == "0"

    # Live again both ways after the comeback.
    back = f"I'm back ({run})"
    bob2.send(back)
    alice.wait_bubble(back, own=False)
    bob2.wait_bubble(back, own=True, status="delivered")

    # alice reloads: still signed in, history kept, every message exactly once.
    before = alice.bubbles()
    alice.d.refresh()
    alice.install_alert_spy()
    alice.wait_online()
    alice.open_conversation(bob_id)
    alice.wait(lambda: len(alice.bubbles()) >= len(before), "history restored after reload")
    after = [b[0] for b in alice.bubbles()]
    for text in [hello, XSS, back, *offline_msgs]:
        assert after.count(text) == 1, after
    assert alice.find_all(f'{tid("message-list")} img') == []
    assert alice.alerts() == []

    # A very long word wraps inside its bubble instead of widening the page.
    long_word = "x" * 400 + run
    alice.send(long_word)
    alice.wait_bubble(long_word, own=True)
    assert alice.d.execute_script(
        "const l = document.querySelector('[data-testid=message-list]');"
        "return l.scrollWidth <= l.clientWidth;")

    # Phone width: one pane at a time, composer visible, back button returns to the list.
    bob2.d.set_window_size(390, 844)
    bob2.wait(lambda: bob2.visible(tid("composer")), "composer visible at phone width")
    assert not bob2.find(tid("contact-list")).is_displayed()
    bob2.screenshot(artifacts / "chat-bob-phone.png")
    bob2.find(tid("back-button")).click()
    bob2.wait(lambda: bob2.visible(tid("contact-list")), "contact list after Back")
    assert not bob2.find(tid("composer")).is_displayed()
