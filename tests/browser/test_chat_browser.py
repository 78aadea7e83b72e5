"""People chat through the web client (protocol v2) in real headless Chromium, across two edges.

test_two_people_chat_across_edges: alice (edge 1) and bob (edge 2) sign in by name, alice
starts the chat by bob's user id. Ticks: alice's message shows delivered once bob's browser has
it (he has not opened the chat, so his list counts it unread), then read once he opens it.
Replies, a two-line message and an HTML payload (stays literal text) go both ways. bob closes
his browser; alice's three messages stay "sent". bob comes back in a fresh profile on the
other edge (a new device: its session is reset and the client reads conversations and history
from the server) and sees the whole history once, in order, with 3 unread; alice sees them
read. With a second fresh profile of bob online, a message read in one of bob's browsers is
read in the other (the server's `read` entry). alice reloads: every message exactly once.
A message over the edge's body limit fails with its code; the phone layout works.

test_scrolling_up_loads_older_history: 60 messages seeded over a WebSocket; the reader's fresh
browser shows the newest page, and scrolling up loads the older one, the view staying still.

Only explicit waits on page state; no timing is asserted.
"""

import secrets

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser_seed import send_all
from chat_page import TIMEOUT, ChatPage, tid

XSS = "<img src=x onerror=alert(1)>"
MAX_BODY_BYTES = 4096  # the edge's default --max-body-bytes


def test_two_people_chat_across_edges(browsers, edge1_url, edge2_url, artifacts):
    run = secrets.token_hex(3)
    alice_id, bob_id, carol_id = f"alice-{run}", f"bob_{run}", f"carol.{run}"

    alice = ChatPage(browsers.new("alice"), edge1_url, "alice")
    bob = ChatPage(browsers.new("bob"), edge2_url, "bob")

    # The sign-in form refuses malformed ids before asking the server.
    alice.open_site()
    alice.wait(lambda: alice.visible(tid("signin-name")), "sign-in form").send_keys("not valid!")
    alice.find(tid("signin-submit")).click()
    alice.wait(lambda: alice.find(tid("signin-error")).text != "", "sign-in error for a bad id")

    alice.sign_in(alice_id)
    bob.sign_in(bob_id)

    # A chat starts by typing a user id (validated); the first message goes out with `to`.
    alice.find(tid("new-chat-input")).send_keys("no spaces allowed")
    alice.find(tid("new-chat-submit")).click()
    alice.wait(lambda: alice.find(tid("new-chat-error")).text != "", "new-chat error")
    alice.start_chat(bob_id)

    # Ticks: delivered once bob's browser has the message (he has not opened the chat, so it
    # is unread there), read once he opens it.
    hello = f"Hello bob, this is alice ({run})"
    alice.send(hello)
    alice.wait_bubble(hello, own=True, status="delivered")
    bob.wait_unread(alice_id, 1)
    assert alice.bubble_with(hello)[0][2] == "delivered"
    alice.screenshot(artifacts / "ticks-delivered-alice.png")
    bob.open_conversation(alice_id)
    bob.wait_bubble(hello, own=False)
    alice.wait_bubble(hello, own=True, status="read")
    bob.wait_unread(alice_id, 0)
    alice.screenshot(artifacts / "ticks-read-alice.png")
    read_colour = alice.bubble_element(hello).find_element(By.CSS_SELECTOR, tid("message-status")) \
        .value_of_css_property("color")

    # Now they share a conversation, each sees the other online.
    alice.wait_presence(bob_id, "online")
    bob.wait_presence(alice_id, "online")
    assert alice.find(tid("conv-presence")).get_attribute("data-status") == "online"

    # Shift+Enter adds a newline; Enter sends the two-line message. alice has the chat open, so
    # bob sees it read.
    first_line, reply = f"Hi alice! Bob here ({run})", f"Hi alice! Bob here ({run})\nsecond line"
    composer = bob.find(tid("composer"))
    composer.send_keys(first_line)
    composer.send_keys(Keys.SHIFT, Keys.ENTER)
    composer.send_keys("second line")
    assert composer.get_attribute("value") == reply
    composer.send_keys(Keys.ENTER)
    alice.wait_bubble(reply, own=False)
    bob.wait_bubble(reply, own=True, status="read")

    # HTML in a message is shown as text and never becomes an element.
    alice.install_alert_spy()
    bob.install_alert_spy()
    alice.send(XSS)
    bob.wait_bubble(XSS, own=False)
    alice.wait_bubble(XSS, own=True, status="read")
    for page in (alice, bob):
        assert page.find_all(f'{tid("message-list")} img') == []
        assert page.alerts() == []
        assert XSS in page.find(tid("message-list")).text

    alice.screenshot(artifacts / "chat-alice.png")
    bob.screenshot(artifacts / "chat-bob.png")

    # bob leaves; alice's messages stay "sent" (nobody of bob's has them).
    browsers.close("bob")
    alice.wait_presence(bob_id, "offline")
    offline_msgs = [f"while you were away {i}/3 ({run})" for i in (1, 2, 3)]
    for text in offline_msgs:
        alice.send(text)
    for text in offline_msgs:
        alice.wait_bubble(text, own=True, status="sent")
    assert alice.presence(bob_id) == "offline"

    # bob comes back in a fresh profile (a new device) on the OTHER edge's origin: no local
    # state at all. The conversation list and the history come from the server.
    bob2 = ChatPage(browsers.new("bob2"), edge1_url, "bob2")
    bob2.sign_in(bob_id)
    bob2.wait_unread(alice_id, 3)
    bob2.open_conversation(alice_id)
    everything = [hello, reply, XSS, *offline_msgs]
    bob2.wait(lambda: bob2.bodies() == everything, "the whole history, once, in order")
    for text in offline_msgs:
        alice.wait_bubble(text, own=True, status="read")
    bob2.wait_unread(alice_id, 0)
    assert [b[1] for b in bob2.bubbles()] == [False, True, False, False, False, False]

    # Read state follows across bob's browsers: bob2 switches to another chat, bob3 (another
    # fresh profile, edge 2) reads alice's next message, and bob2's unread count drops.
    bob3 = ChatPage(browsers.new("bob3"), edge2_url, "bob3")
    bob3.sign_in(bob_id)
    bob3.wait(lambda: bob3.conv(alice_id), "alice's chat in bob3's list")
    bob2.start_chat(carol_id)
    ping = f"are you there? ({run})"
    alice.send(ping)
    alice.wait_bubble(ping, own=True, status="delivered")
    bob2.wait_unread(alice_id, 1)
    bob3.wait_unread(alice_id, 1)
    delivered_colour = alice.bubble_element(ping).find_element(By.CSS_SELECTOR, tid("message-status")) \
        .value_of_css_property("color")
    assert read_colour != delivered_colour  # the same two ticks, another look once read
    bob3.open_conversation(alice_id)
    bob3.wait_bubble(ping, own=False)
    bob2.wait_unread(alice_id, 0)
    alice.wait_bubble(ping, own=True, status="read")

    # Live again both ways.
    back = f"I'm back ({run})"
    bob3.send(back)
    alice.wait_bubble(back, own=False)
    bob3.wait_bubble(back, own=True, status="read")

    # alice reloads: still signed in, history from the cache and the server, each message once.
    alice.d.refresh()
    alice.install_alert_spy()
    alice.wait_online()
    alice.open_conversation(bob_id)
    final = [*everything, ping, back]
    alice.wait(lambda: alice.bodies() == final, "history after reload, once, in order")
    assert alice.find_all(f'{tid("message-list")} img') == []
    assert alice.alerts() == []

    # A body over the edge's limit fails on the message, with its code.
    too_long = "y" * (MAX_BODY_BYTES + 1)
    alice.send(too_long)
    alice.wait_bubble(too_long, own=True, status="failed")
    failed = alice.bubble_element(too_long)
    assert failed.get_attribute("data-code") == "too_large"
    assert "too_large" in failed.find_element(By.CSS_SELECTOR, tid("message-error")).text
    assert failed.find_element(By.CSS_SELECTOR, tid("message-retry")).is_displayed()

    # A very long word wraps inside its bubble instead of widening the page.
    long_word = "x" * 400 + run
    alice.send(long_word)
    alice.wait_bubble(long_word, own=True)
    assert alice.d.execute_script(
        "const l = document.querySelector('[data-testid=message-list]');"
        "return l.scrollWidth <= l.clientWidth;")

    # Phone width: one pane at a time, composer visible, back button returns to the list.
    bob3.d.set_window_size(390, 844)
    bob3.wait(lambda: bob3.visible(tid("composer")), "composer visible at phone width")
    assert not bob3.find(tid("conv-list")).is_displayed()
    bob3.screenshot(artifacts / "chat-bob-phone.png")
    bob3.find(tid("back-button")).click()
    bob3.wait(lambda: bob3.visible(tid("conv-list")), "conversation list after Back")
    assert not bob3.find(tid("composer")).is_displayed()


def test_scrolling_up_loads_older_history(browsers, edge1_url, edge2_url, artifacts):
    run = secrets.token_hex(3)
    carol_id, dave_id = f"carol-{run}", f"dave-{run}"
    texts = [f"seeded {i}/60 ({run})" for i in range(1, 61)]
    send_all(edge2_url, carol_id, dave_id, texts, TIMEOUT)

    dave = ChatPage(browsers.new("dave"), edge1_url, "dave")
    dave.sign_in(dave_id)
    dave.wait_unread(carol_id, 60)
    dave.open_conversation(carol_id)
    # The newest page (50) first; the older ones are there to scroll to.
    dave.wait(lambda: dave.bodies() == texts[10:], "the newest page of history")
    dave.wait(lambda: dave.history_state() == "more", "older history announced")
    dave.screenshot(artifacts / "history-newest-page.png")

    dave.d.execute_script("document.querySelector('[data-testid=message-list]').scrollTop = 0;")
    dave.wait(lambda: dave.bodies() == texts, "the older page above the newest one, each message once")
    dave.wait(lambda: dave.history_state() == "start", "the beginning of the conversation")
    # The view stayed on what was shown before instead of jumping to the new top.
    assert dave.d.execute_script("return document.querySelector('[data-testid=message-list]').scrollTop") > 0
    dave.screenshot(artifacts / "history-scrolled-up.png")
    dave.wait_unread(carol_id, 0)
