"""Three people in a group through the web client, across two edges, in real headless Chromium.

alice (edge 1) creates a group with bob (edge 2) and carol (edge 1, phone width). Everyone sees
it with its title; messages name their sender. bob types without sending: alice and carol see
"bob is typing…" in the header, and it goes away on its own. alice's message shows "read by 2"
once bob and carol opened the group (their read cursors, through `members`). bob, not an admin,
gets no add/remove controls; alice adds dave and removes carol: carol's group turns read-only
and her composer goes away. bob leaves; alice sees it between the messages. Then the dm: bob's
typing shows as "typing…" under his name, and once he closes his browser, "last seen …".

Only explicit waits on page state; no timing is asserted. Screenshots go to test-artifacts/.
"""

import secrets

from selenium.webdriver.common.by import By

from chat_page import ChatPage, tid


class GroupPage(ChatPage):
    """ChatPage plus the group controls."""

    def group_item(self, title):
        for item in self.find_all(tid("conv-item")):
            if item.find_element(By.CSS_SELECTOR, tid("conv-name")).text == title:
                return item
        return None

    def create_group(self, title, members):
        if not self.find(tid("new-group-form")).is_displayed():
            self.find(tid("new-group-toggle")).click()
        self.wait(lambda: self.visible(tid("new-group-title")), "new-group form").send_keys(title)
        self.find(tid("new-group-members")).send_keys(", ".join(members))
        self.find(tid("new-group-submit")).click()
        self.wait_group_open(title)

    def open_group(self, title):
        self.wait(lambda: self.group_item(title), f"group {title!r} in the list").click()
        self.wait_group_open(title)

    def wait_group_open(self, title):
        self.wait(lambda: self.find(tid("conv-title")).text == title, f"group {title!r} open")

    def header_typing(self):
        el = self.find(tid("conv-typing"))
        return el.text if el.is_displayed() else ""

    def senders(self):
        """The sender names shown in the open conversation, in page order."""
        return [el.text for el in self.find_all(f'{tid("message-list")} {tid("message-sender")}') if el.is_displayed()]

    def read_by(self, text):
        li = self.bubble_element(text)
        return li.find_element(By.CSS_SELECTOR, tid("message-read-by")).get_attribute("data-count") if li else None

    def events(self):
        return [el.text for el in self.find_all(f'{tid("message-list")} {tid("group-event")}')]

    def show_members(self):
        if not self.find(tid("members-panel")).is_displayed():
            self.wait(lambda: self.visible(tid("members-button")), "Members button").click()
        self.wait(lambda: self.visible(tid("members-panel")), "members panel")

    def member_rows(self):
        return {row.get_attribute("data-user"): row for row in self.find_all(tid("member-row"))}

    def wait_members(self, users):
        self.wait(lambda: sorted(self.member_rows()) == sorted(users), f"members {sorted(users)}")


def test_three_people_in_a_group_across_edges(browsers, edge1_url, edge2_url, artifacts):
    run = secrets.token_hex(3)
    alice_id, bob_id, carol_id, dave_id = (f"{n}-{run}" for n in ("alice", "bob", "carol", "dave"))
    title = f"Team {run}"

    alice = GroupPage(browsers.new("g-alice"), edge1_url, "alice")
    bob = GroupPage(browsers.new("g-bob"), edge2_url, "bob")
    carol = GroupPage(browsers.new("g-carol", width=390, height=844), edge1_url, "carol")
    for page, user in ((alice, alice_id), (bob, bob_id), (carol, carol_id)):
        page.sign_in(user)

    # The form checks what it can before asking the server.
    alice.find(tid("new-group-toggle")).click()
    alice.wait(lambda: alice.visible(tid("new-group-submit")), "new-group form").click()
    alice.wait(lambda: alice.find(tid("new-group-error")).text != "", "error for a group without a name")

    alice.create_group(title, [bob_id, carol_id])
    hello = f"Hello team ({run})"
    alice.send(hello)
    alice.wait_bubble(hello, own=True)

    # bob and carol get the group with its title, and the message with its sender's name.
    bob.wait(lambda: bob.group_item(title), "the group in bob's list")
    bob.open_group(title)
    bob.wait_bubble(hello, own=False)
    assert bob.senders() == [alice_id]
    assert any(alice_id in e and "created" in e for e in bob.events())
    carol.open_group(title)  # phone width: the conversation replaces the list
    carol.wait_bubble(hello, own=False)
    assert not carol.find(tid("conv-list")).is_displayed()

    # Both read it: alice sees "read by 2" (everyone else), from the members' read cursors.
    alice.wait(lambda: alice.read_by(hello) == "2", "read by 2 on alice's message")
    alice.screenshot(artifacts / "group-read-by-alice.png")

    # bob types without sending: the others see it in the header, and it ends by itself.
    composer = bob.wait(lambda: bob.visible(tid("composer")), "bob's composer")
    composer.send_keys("I am typing a long")
    alice.wait(lambda: alice.header_typing() == f"{bob_id} is typing…", "bob typing, on alice's screen")
    carol.wait(lambda: carol.header_typing() == f"{bob_id} is typing…", "bob typing, on carol's screen")
    alice.screenshot(artifacts / "group-typing-alice.png")
    carol.screenshot(artifacts / "group-typing-carol-phone.png")
    alice.wait(lambda: alice.header_typing() == "", "the typing indicator gone after bob stopped")
    composer.send_keys(" reply")
    bob.find(tid("send-button")).click()
    reply = "I am typing a long reply"
    alice.wait_bubble(reply, own=False)
    carol.wait_bubble(reply, own=False)
    assert alice.senders() == [bob_id]

    # bob is no admin: no add form, no remove buttons.
    bob.show_members()
    bob.wait_members([alice_id, bob_id, carol_id])
    assert not bob.find(tid("member-add-form")).is_displayed()
    assert not any(b.is_displayed() for b in bob.find_all(tid("member-remove")))

    # alice (the admin) adds dave and removes carol.
    alice.show_members()
    alice.wait_members([alice_id, bob_id, carol_id])
    assert alice.member_rows()[alice_id].get_attribute("data-role") == "admin"
    alice.find(tid("member-add-input")).send_keys(dave_id)
    alice.find(tid("member-add-submit")).click()
    alice.wait_members([alice_id, bob_id, carol_id, dave_id])
    alice.screenshot(artifacts / "group-members-alice.png")
    alice.member_rows()[carol_id].find_element(By.CSS_SELECTOR, tid("member-remove")).click()
    alice.wait_members([alice_id, bob_id, dave_id])
    bob.wait_members([alice_id, bob_id, dave_id])

    # carol is out: told so in place of the composer; what came before stays readable.
    carol.wait(lambda: carol.visible(tid("conv-left")), "carol told she is no longer a member")
    assert not carol.find(tid("composer")).is_displayed()
    assert carol.bubble_with(hello)
    carol.screenshot(artifacts / "group-removed-carol-phone.png")

    # bob leaves; alice sees it between the messages.
    bob.find(tid("group-leave")).click()
    bob.wait(lambda: bob.visible(tid("conv-left")), "bob's group read-only after leaving")
    alice.wait(lambda: any(e == f"{bob_id} left" for e in alice.events()), "bob's leaving shown to alice")
    alice.find(tid("members-close")).click()
    alice.screenshot(artifacts / "group-alice.png")

    # Last seen: alice and bob share a dm; once bob's only browser is gone, "last seen …".
    alice.start_chat(bob_id)
    dm = f"just us ({run})"
    alice.send(dm)
    alice.wait_bubble(dm, own=True)
    alice.wait(lambda: alice.find(tid("conv-presence")).text == "online", "bob online under his name")
    bob.open_conversation(alice_id)
    bob.wait(lambda: bob.visible(tid("composer")), "bob's dm composer").send_keys("hm")
    alice.wait(lambda: alice.header_typing() == "typing…", "bob typing in the dm")
    browsers.close("g-bob")
    alice.wait(lambda: alice.find(tid("conv-presence")).text.startswith("last seen"), "bob's last seen")
    alice.screenshot(artifacts / "dm-last-seen-alice.png")
