"""The demo data set: a small online retailer's support team with a realistic history.

Three teams (Billing, Technical Support, Orders & Logistics), twelve agents across the tiers,
about 200 customers in organizations and about 1,000 tickets across channels and statuses with
conversations. Ticket topics follow the ABCD customer-service guidelines (flows and subflows,
agent actions) when the data set is present (CAREDESK_DEMO_DATA_DIR, or ../shared/data/abcd next
to the project); otherwise a built-in copy of the topic list is used. Everything is created
through the services, so events, timestamps and SLA-relevant fields are what real use produces.
The generator is seeded: the same data every time.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from caredesk.accounts.models import Role, Skill, Team, Tier, User
from caredesk.accounts.services import create_agent
from caredesk.customers.models import Customer, Organization
from caredesk.customers.services import create_customer
from caredesk.tickets.models import (
    AuthorKind,
    Message,
    Priority,
    Status,
    Ticket,
    TicketEvent,
)
from caredesk.tickets.services import Actor, assign, change_status, create_ticket, post_message

DEMO_DOMAIN = "demo.caredesk.test"
DEMO_PASSWORD = "caredesk-demo"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"

TEAMS = [
    ("Billing", "billing", "Refunds, charges, subscriptions and disputes."),
    ("Technical Support", "technical", "Sign-in, the website and account settings."),
    ("Orders & Logistics", "orders", "Orders, shipping, returns and product questions."),
]

# ABCD flow -> team slug
FLOW_TEAM = {
    "Product Defect": "billing",
    "Purchase Dispute": "billing",
    "Subscription Inquiry": "billing",
    "Account Access": "technical",
    "Troubleshoot Site": "technical",
    "Manage Account": "technical",
    "Order Issue": "orders",
    "Shipping Issue": "orders",
    "Single-Item Query": "orders",
    "Storewide Query": "orders",
}

BUILTIN_SUBFLOWS = {
    "Product Defect": ["Initiate Refund", "Refund Status", "Return Due to Size"],
    "Purchase Dispute": [
        "Bad Price Competitor",
        "Promo Code Invalid",
        "Mistimed Billing Never Bought",
    ],
    "Subscription Inquiry": ["Status Due Amount", "Manage Pay Bill", "Manage Dispute Bill"],
    "Account Access": ["Recover Username", "Recover Password", "Reset Two-Factor Auth"],
    "Troubleshoot Site": ["Invalid Credit Card", "Cart Not Updating", "Website Too Slow"],
    "Manage Account": ["Manage Change Address", "Manage Change Phone", "Manage Payment Method"],
    "Order Issue": ["Status Delivery Time", "Status Mystery Fee", "Manage Cancel"],
    "Shipping Issue": ["Shipping Status", "Missing Item", "Shipping Cost"],
    "Single-Item Query": ["Boots FAQ", "Jeans FAQ", "Jacket FAQ"],
    "Storewide Query": ["Pricing FAQ", "Membership FAQ", "Policy FAQ"],
}

OPENERS = {
    "Product Defect": [
        "I need to return the {product} I bought, they don't fit.",
        "Where is my refund? I sent the {product} back two weeks ago.",
        "The {product} I received is faulty and I want my money back.",
    ],
    "Purchase Dispute": [
        "I was charged for something I never bought.",
        "The price of the {product} dropped the day after I bought it.",
        "My promo code is not accepted at checkout.",
    ],
    "Subscription Inquiry": [
        "How much do I owe on my subscription?",
        "I want to pay my bill but the page fails.",
        "I think my last bill is wrong.",
    ],
    "Account Access": [
        "I can't sign in to my account.",
        "I forgot my password and the reset email never arrives.",
        "I lost my phone and can't get past two-factor.",
    ],
    "Troubleshoot Site": [
        "My credit card keeps getting rejected on your site.",
        "Items I add don't show up in my cart.",
        "Your website is extremely slow today.",
    ],
    "Manage Account": [
        "I moved and need to change my shipping address.",
        "Please update the phone number on my account.",
        "I want to change the card on file.",
    ],
    "Order Issue": [
        "When will my order arrive?",
        "There's a fee on my order I don't understand.",
        "I'd like to cancel my order before it ships.",
    ],
    "Shipping Issue": [
        "My package says delivered but I don't have it.",
        "One item was missing from my box.",
        "Why is shipping so expensive to my area?",
    ],
    "Single-Item Query": [
        "Do the {product} run true to size?",
        "What material is the {product} made of?",
        "Is the {product} waterproof?",
    ],
    "Storewide Query": [
        "Do you price-match other stores?",
        "What do I get with a gold membership?",
        "What is your return policy on sale items?",
    ],
}
FOLLOW_UPS = [
    "Thanks, that helps.",
    "Any update on this?",
    "I still have the problem.",
    "Here is my order number: {order}.",
    "Great, thank you so much!",
    "Can you check again please? The order number is {order}.",
]
# What agents answer first, per ABCD flow (the guidelines' advice is for agents: it goes into
# internal notes, not to customers).
AGENT_REPLIES = {
    "Product Defect": [
        "Sorry about that! I've started a return for you: you'll get a prepaid label by email."
        " Once the parcel is scanned, the refund goes back to your card within 5-7 days.",
        "I can see the refund was issued yesterday; it usually shows on a statement within"
        " 5 business days.",
    ],
    "Purchase Dispute": [
        "I've checked your account and see the charge. Could you confirm the last four digits of"
        " the card it was charged to? Then I can open a dispute with our payments team.",
        "We match our own price within 14 days of purchase, so I've refunded the difference.",
    ],
    "Subscription Inquiry": [
        "Your membership renews on the 1st; the amount due is shown under Account > Billing."
        " I've also emailed you the last invoice.",
        "I've looked at your last bill and you're right: you were charged twice. The duplicate"
        " is refunded.",
    ],
    "Account Access": [
        "I've sent a new password reset link to the email address on your account; it is valid"
        " for one hour.",
        "I've reset two-factor authentication on your account. You can sign in with your password"
        " and set it up again.",
    ],
    "Troubleshoot Site": [
        "Sorry for the trouble. Could you try clearing your browser's cache, or use a private"
        " window? If the problem stays, tell me which browser you use.",
        "We had a slowdown on the site this morning; it's fixed now. Could you try again?",
    ],
    "Manage Account": [
        "Done: your account is updated. Orders that have already shipped keep the old details.",
        "I can change that for you. For your security, could you confirm your postcode?",
    ],
    "Order Issue": [
        "Your order has shipped and should arrive within 2 business days; the tracking link is"
        " in your confirmation email.",
        "I've cancelled the order before it shipped; the refund is on its way.",
    ],
    "Shipping Issue": [
        "I'm sorry your parcel hasn't arrived. I've opened a trace with the carrier; if it doesn't"
        " turn up within 48 hours we'll send a replacement.",
        "Shipping costs depend on the weight and the region; orders over $50 ship free.",
    ],
    "Single-Item Query": [
        "They run true to size; if you're between sizes, most customers go one up.",
        "It's waterproof to 10,000 mm, so fine for heavy rain but not for swimming.",
    ],
    "Storewide Query": [
        "Gold members get free express shipping and early access to sales.",
        "Sale items can be returned within 14 days for store credit.",
    ],
}
CLOSINGS = [
    "Is there anything else I can help you with?",
    "I've taken care of it; you'll get a confirmation email shortly.",
    "Happy to help. Have a great day!",
]
PRODUCTS = ["jeans", "boots", "jacket", "shirt", "sneakers", "backpack"]
FIRST = [
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Avery",
    "Quinn",
    "Dana",
    "Robin",
    "Chris",
    "Pat",
    "Lee",
    "Kim",
    "Noah",
    "Emma",
    "Liam",
    "Olivia",
    "Mia",
    "Lucas",
    "Sofia",
    "Mateo",
    "Yuki",
    "Aisha",
    "Omar",
    "Ines",
    "Hannah",
    "Jonas",
]
LAST = [
    "Smith",
    "Garcia",
    "Chen",
    "Müller",
    "Rossi",
    "Kowalski",
    "Nguyen",
    "Okafor",
    "Silva",
    "Johansson",
    "Patel",
    "Dubois",
    "Novak",
    "Tanaka",
    "Haddad",
    "Fischer",
    "Moreau",
    "Costa",
    "Lindqvist",
    "Brown",
]
ORGS = [
    "Acme Outfitters",
    "Northwind Traders",
    "Globex Retail",
    "Initech",
    "Umbrella Stores",
    "Stark Supplies",
    "Wayne Goods",
    "Soylent Market",
    "Hooli Shop",
    "Vandelay Imports",
    "Pied Piper Co",
    "Tyrell Trading",
    "Cyberdyne Apparel",
    "Wonka Sweets",
    "Oscorp Gear",
    "Gringotts Finance",
    "Monsters Inc",
    "Duff Brewing",
    "Aperture Labs",
    "Black Mesa Supply",
    "Blue Sun Foods",
    "Zorg Industries",
    "Massive Dynamic",
    "Nakatomi Trading",
]

AGENTS = [
    # (name, email local part, role, tier, team slugs, skills, languages)
    (
        "Ada Admin",
        "admin",
        Role.ADMIN,
        Tier.LEAD,
        ["billing", "technical", "orders"],
        ["escalations"],
        ["en", "de"],
    ),
    (
        "Bea Billing",
        "bea",
        Role.LEAD,
        Tier.LEAD,
        ["billing"],
        ["refunds", "disputes"],
        ["en", "es"],
    ),
    ("Tom Tech", "tom", Role.LEAD, Tier.LEAD, ["technical"], ["accounts", "web"], ["en"]),
    (
        "Olga Orders",
        "olga",
        Role.LEAD,
        Tier.LEAD,
        ["orders"],
        ["shipping", "returns"],
        ["en", "pl"],
    ),
    (
        "Sara Senior",
        "sara",
        Role.AGENT,
        Tier.SENIOR,
        ["billing"],
        ["refunds", "disputes", "vip"],
        ["en", "fr"],
    ),
    (
        "Ravi Senior",
        "ravi",
        Role.AGENT,
        Tier.SENIOR,
        ["technical"],
        ["accounts", "web", "vip"],
        ["en", "hi"],
    ),
    ("Marta Mid", "marta", Role.AGENT, Tier.MID, ["orders"], ["shipping"], ["en", "es"]),
    ("Mike Mid", "mike", Role.AGENT, Tier.MID, ["billing"], ["refunds"], ["en"]),
    (
        "Nina Mid",
        "nina",
        Role.AGENT,
        Tier.MID,
        ["technical", "orders"],
        ["web", "returns"],
        ["en", "de"],
    ),
    ("Jack Junior", "jack", Role.AGENT, Tier.JUNIOR, ["orders"], ["shipping"], ["en"]),
    ("Julia Junior", "julia", Role.AGENT, Tier.JUNIOR, ["billing"], [], ["en", "it"]),
    ("Jin Junior", "jin", Role.AGENT, Tier.JUNIOR, ["technical"], ["web"], ["en", "ko"]),
]

CHANNELS = [
    ("email", 45),
    ("chat", 20),
    ("web", 12),
    ("phone", 10),
    ("sms", 4),
    ("whatsapp", 5),
    ("api", 4),
]
STATUSES = [
    (Status.NEW, 8),
    (Status.OPEN, 22),
    (Status.PENDING, 12),
    (Status.ON_HOLD, 5),
    (Status.SOLVED, 35),
    (Status.CLOSED, 18),
]
PRIORITIES = [(Priority.LOW, 20), (Priority.NORMAL, 55), (Priority.HIGH, 18), (Priority.URGENT, 7)]


@dataclass
class Topic:
    flow: str
    subflow: str
    advice: list[str]


def abcd_dir() -> Path | None:
    candidates = [
        os.environ.get("CAREDESK_DEMO_DATA_DIR", ""),
        str(settings.BASE_DIR.parent.parent / "shared" / "data" / "abcd"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "guidelines.json").exists():
            return Path(candidate)
    return None


def load_topics() -> list[Topic]:
    folder = abcd_dir()
    topics: list[Topic] = []
    if folder is not None:
        guidelines = json.loads((folder / "guidelines.json").read_text())
        for flow, body in guidelines.items():
            if flow not in FLOW_TEAM:
                continue
            for subflow, details in body.get("subflows", {}).items():
                advice = [a.get("text", "") for a in details.get("actions", []) if a.get("text")]
                topics.append(Topic(flow, subflow, advice))
    if not topics:
        topics = [Topic(flow, sub, []) for flow, subs in BUILTIN_SUBFLOWS.items() for sub in subs]
    return topics


def load_sample_dialogues() -> list[dict[str, Any]]:
    folder = abcd_dir()
    if folder is None or not (folder / "abcd_sample.json").exists():
        return []
    return json.loads((folder / "abcd_sample.json").read_text())


def _weighted(rng: random.Random, pairs: list[tuple[Any, int]]) -> Any:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _agent_reply(rng: random.Random, topic: Topic) -> str:
    replies = AGENT_REPLIES.get(topic.flow)
    if replies:
        return rng.choice(replies)
    return f"Thanks for reaching out. I'm looking into your {topic.subflow.lower()} question now."


GREETING = re.compile(r"^(hi|hello|hey|good (morning|afternoon|evening))\b[\s!,.]*", re.IGNORECASE)


def subject_from(text: str) -> str:
    """A subject the way customers write one: the first real sentence of their message."""
    text = GREETING.sub("", text.strip())
    sentence = re.split(r"(?<=[.?!])\s", text, maxsplit=1)[0].strip().rstrip(".")
    if len(sentence) > 70:
        sentence = sentence[:70].rsplit(" ", 1)[0] + "…"
    return (sentence[:1].upper() + sentence[1:]) or "Question about my order"


def _order_number(rng: random.Random) -> str:
    return f"CD-{rng.randint(10000, 99999)}"


def is_loaded() -> bool:
    return User.objects.filter(email=ADMIN_EMAIL).exists()


# Other parts of caredesk add their demo content here (the knowledge base); channels give
# theirs with their adapter (channels.base.ChannelAdapter.demo).
EXTRA_LOADERS: list[Callable[[], None]] = []


def load_demo(
    *,
    tickets: int = 1000,
    customers: int = 200,
    seed: int = 7,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, int]:
    """Create the demo data set (idempotent: does nothing when it is already loaded)."""
    if is_loaded():
        return {"tickets": 0}
    rng = random.Random(seed)
    now = timezone.now()
    with transaction.atomic():
        teams = {
            slug: Team.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "description": desc,
                    "email_address": f"{slug}@{DEMO_DOMAIN}",
                },
            )[0]
            for name, slug, desc in TEAMS
        }
        agents: dict[str, list[User]] = {slug: [] for slug in teams}
        for name, local, role, tier, team_slugs, skills, languages in AGENTS:
            agent = create_agent(
                email=f"{local}@{DEMO_DOMAIN}",
                name=name,
                password=DEMO_PASSWORD,
                role=role,
                tier=tier,
                teams=[teams[s] for s in team_slugs],
                languages=languages,
                check_password=False,
            )
            agent.skills.set([Skill.objects.get_or_create(name=s)[0] for s in skills])
            for slug in team_slugs:
                if role != Role.ADMIN:
                    agents[slug].append(agent)
        progress("teams and agents")
        organizations = [
            Organization.objects.create(
                name=name,
                domain=name.lower().replace(" ", "") + ".test",
                shared_tickets=rng.random() < 0.3,
            )
            for name in ORGS
        ]
        people: list[Customer] = []
        used: set[str] = set()
        while len(people) < customers:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            org = rng.choice(organizations) if rng.random() < 0.6 else None
            domain = org.domain if org else rng.choice(["mail.test", "post.test", "inbox.test"])
            local = f"{first}.{last}".lower().replace("ü", "ue")
            email = f"{local}{len(people)}@{domain}"
            if email in used:
                continue
            used.add(email)
            phone = f"+1415555{len(people):04d}" if rng.random() < 0.4 else ""
            people.append(
                create_customer(
                    name=f"{first} {last}",
                    email=email,
                    phone=phone,
                    organization=org,
                    language=rng.choice(["en", "en", "en", "es", "de", "fr"]),
                    vip=rng.random() < 0.05,
                )
            )
        progress("customers")
        topics = load_topics()
        dialogues = load_sample_dialogues()
        created: list[tuple[Ticket, int]] = []
        for index in range(tickets):
            topic = rng.choice(topics)
            team = teams[FLOW_TEAM[topic.flow]]
            requester = rng.choice(people)
            channel = _weighted(rng, CHANNELS)
            status = _weighted(rng, STATUSES)
            opener = rng.choice(OPENERS.get(topic.flow, ["I need help with {detail}."])).format(
                product=rng.choice(PRODUCTS), detail=topic.subflow.lower()
            )
            dialogue = dialogues[index] if index < len(dialogues) else None
            if dialogue is not None:
                lines = [text for speaker, text in dialogue["original"] if speaker == "customer"]
                # The first line that says something (not a bare greeting, name or user name).
                opener = next((line for line in lines if len(line.split()) >= 4), opener)
            ticket = create_ticket(
                Actor.of_customer(requester),
                subject=subject_from(opener),
                requester=requester,
                body_text=opener,
                channel=channel,
                priority=_weighted(rng, PRIORITIES),
                team=team,
                category=topic.flow,
                tags=[topic.flow.lower().replace(" ", "-")] + (["vip"] if requester.vip else []),
            )
            if status != Status.NEW:
                agent = rng.choice(agents[team.slug])
                assign(agent, ticket, agent)
                if dialogue is not None:
                    for speaker, text in dialogue["original"][3:14]:
                        if speaker == "agent":
                            post_message(agent, ticket, body_text=text)
                        elif speaker == "customer":
                            post_message(Actor.of_customer(requester), ticket, body_text=text)
                else:
                    post_message(agent, ticket, body_text=_agent_reply(rng, topic))
                    if rng.random() < 0.6:
                        post_message(
                            Actor.of_customer(requester),
                            ticket,
                            body_text=rng.choice(FOLLOW_UPS).format(order=_order_number(rng)),
                        )
                    if rng.random() < 0.25:
                        post_message(
                            agent,
                            ticket,
                            body_text=(
                                f"Guideline: {rng.choice(topic.advice)}"
                                if topic.advice
                                else f"Checked the account and the order history ({topic.subflow})."
                            )
                            .replace("[", "")
                            .replace("]", ""),
                            internal=True,
                        )
                if status in (Status.SOLVED, Status.CLOSED):
                    post_message(
                        agent, ticket, body_text=rng.choice(CLOSINGS), status_after=Status.SOLVED
                    )
                    if status == Status.CLOSED:
                        change_status(agent, ticket, Status.CLOSED)
                elif status != Status.OPEN:
                    change_status(agent, ticket, status)
            created.append((ticket, index))
        progress("tickets")
        _spread_over_time(created, now, rng)
        _history_already_sent([ticket.pk for ticket, _ in created])
    # The tickets' changes are announced when that transaction commits; the SLA policies come
    # after, in a transaction of their own, and start the open tickets' clocks in one pass
    # (announced before them, every change would have moved a clock, one ticket at a time).
    # The channels' and the knowledge base's demo content first: the policies' after-commit
    # pass then clocks their tickets too, from when each was opened.
    with transaction.atomic():
        from caredesk.channels.base import demo_loaders

        for loader in [*demo_loaders(), *EXTRA_LOADERS]:
            loader()
        _configure_workflow(teams, now)
        progress("SLA policies, business hours, macros and snippets")
    return {
        "teams": len(teams),
        "agents": len(AGENTS),
        "customers": len(people),
        "tickets": len(created),
    }


def _history_already_sent(ticket_ids: list[int]) -> None:
    """The seeded agent replies are history: stored as sent, with no delivery to attempt."""
    from caredesk.core.models import Delivery
    from caredesk.tickets.models import DeliveryStatus

    Delivery.objects.filter(message__ticket_id__in=ticket_ids).delete()
    Message.objects.filter(ticket_id__in=ticket_ids, delivery_status=DeliveryStatus.QUEUED).update(
        delivery_status=DeliveryStatus.SENT
    )


# Weekday hours (and Saturday mornings for Orders) in the team's zone.
DEMO_HOURS = {
    "billing": ("America/New_York", {str(d): [["08:00", "18:00"]] for d in range(5)}),
    "technical": ("America/New_York", {str(d): [["07:00", "22:00"]] for d in range(5)}),
    "orders": (
        "America/New_York",
        {**{str(d): [["08:00", "20:00"]] for d in range(5)}, "5": [["09:00", "13:00"]]},
    ),
}
# (name, conditions, first response, next response, resolution) in business minutes.
DEMO_POLICIES = [
    ("Urgent", {"priority": ["urgent"]}, 60, 2 * 60, 8 * 60),
    ("VIP customers", {"vip": True}, 2 * 60, 4 * 60, 16 * 60),
    ("High priority", {"priority": ["high"]}, 4 * 60, 8 * 60, 3 * 8 * 60),
    ("Standard", {}, 2 * 8 * 60, 2 * 8 * 60, 5 * 8 * 60),
]
DEMO_MACROS = [
    (
        "Refund issued",
        "Hi {{customer.first_name}}, I've issued your refund; it shows on your statement within"
        " 5-7 business days. Is there anything else I can help with?",
        {"status": "solved", "tags": ["refund"]},
    ),
    (
        "Ask for the order number",
        "Hi {{customer.first_name}}, could you send me your order number (it starts with CD- and"
        " is in your confirmation email)? Then I can look into this straight away.",
        {"status": "pending"},
    ),
    (
        "Password reset sent",
        "Hi {{customer.first_name}}, I've sent a fresh password reset link to {{customer.email}}."
        " It is valid for one hour; check your spam folder if it doesn't arrive.",
        {"status": "pending", "tags": ["account-access"]},
    ),
    (
        "Escalate to billing lead",
        "Passing this to the billing lead for approval.",
        {"priority": "high", "tags": ["needs-approval"]},
    ),
]
DEMO_SNIPPETS = [
    ("thanks", "Thanks for waiting", "Thanks for your patience, {{customer.first_name}}."),
    (
        "returns",
        "Return policy",
        "You can return any unworn item within 30 days for a full refund; sale items within 14"
        " days for store credit.",
    ),
    (
        "shipping",
        "Shipping times",
        "Standard shipping takes 3-5 business days, express 1-2. You'll get a tracking link by"
        " email as soon as your parcel leaves the warehouse.",
    ),
    ("bye", "Sign-off", "Have a great day!\n{{agent.first_name}} from the support team"),
]


def _configure_workflow(teams: dict[str, Team], now: Any) -> None:
    """What a real team has set up: business hours, SLA policies (applied to the open tickets, so
    the SLA views have real numbers), shared macros and snippets."""
    from caredesk.automation.models import CannedResponse, Macro
    from caredesk.automation.services import save_macro, save_snippet
    from caredesk.sla.models import BusinessHours, SlaPolicy
    from caredesk.sla.services import apply_policies, validate_policy

    for slug, (zone, schedule) in DEMO_HOURS.items():
        BusinessHours.objects.create(
            name=f"{teams[slug].name} hours",
            team=teams[slug],
            time_zone=zone,
            schedule=schedule,
            country="US",
        )
    for position, (name, conditions, first, following, resolution) in enumerate(DEMO_POLICIES):
        policy = SlaPolicy(
            name=name,
            position=position,
            conditions=conditions,
            first_response_minutes=first,
            next_response_minutes=following,
            resolution_minutes=resolution,
            pause_statuses=[Status.PENDING, Status.ON_HOLD],
        )
        validate_policy(policy)
        policy.save()
    # After the commit, and after the tickets' own after-commit handlers (registered earlier, so
    # run earlier), which start clocks from the moment of the commit: the open tickets are then
    # clocked from when they were opened, as a policy added to a running desk does.
    transaction.on_commit(lambda: apply_policies(now))
    for name, reply, changes in DEMO_MACROS:
        save_macro(Macro(name=name, reply=reply, changes=changes))
    for shortcut, title, body in DEMO_SNIPPETS:
        save_snippet(CannedResponse(shortcut=shortcut, title=title, body=body))


def _spread_over_time(created: list[tuple[Ticket, int]], now: Any, rng: random.Random) -> None:
    """Move each ticket's history back in time so the demo has 90 days of activity.

    The last message of every ticket lands in the past (the newest a few minutes ago), its earlier
    messages before it, and each event at the time of the message it followed: nothing is dated
    in the future, and "Last updated" sorts the way a real week's work would."""
    for ticket, _ in created:
        # The copy in hand may predate the status changes made through other copies.
        ticket.refresh_from_db(fields=["status"])
        if ticket.status in (Status.NEW, Status.OPEN):
            # Active work: the last word came in the past three days.
            age = timedelta(minutes=rng.uniform(3, 72 * 60))
        else:
            age = timedelta(days=rng.uniform(0.2, 90), minutes=rng.uniform(0, 600))
        messages = list(
            Message.objects.filter(ticket=ticket)
            .order_by("id")
            .values_list("id", "created_at", "author_kind", "internal")
        )
        step = timedelta(minutes=rng.uniform(20, 240))
        end = now - age
        base = end - step * max(len(messages) - 1, 0)
        moved = [(old, base + step * offset) for offset, (_, old, _, _) in enumerate(messages)]
        for (message_id, *_), (_, new) in zip(messages, moved, strict=True):
            Message.objects.filter(pk=message_id).update(created_at=new)
        for event_id, old in TicketEvent.objects.filter(ticket=ticket).values_list(
            "id", "created_at"
        ):
            # At the time of the newest message written before the event (else the ticket's start).
            at = max((new for was, new in moved if was <= old), default=base)
            TicketEvent.objects.filter(pk=event_id).update(created_at=at)
        public = [
            (kind, new)
            for (_, _, kind, internal), (_, new) in zip(messages, moved, strict=True)
            if not internal
        ]
        agent_times = [new for kind, new in public if kind == AuthorKind.AGENT]
        customer_times = [new for kind, new in public if kind == AuthorKind.CUSTOMER]
        fields: dict[str, Any] = {"created_at": base, "updated_at": end}
        current = (
            Ticket.objects.filter(pk=ticket.pk)
            .values("first_response_at", "last_agent_message_at", "solved_at", "closed_at")
            .get()
        )
        if current["first_response_at"] is not None and agent_times:
            fields["first_response_at"] = agent_times[0]
        if current["last_agent_message_at"] is not None and agent_times:
            fields["last_agent_message_at"] = agent_times[-1]
        if customer_times:
            fields["last_customer_message_at"] = customer_times[-1]
        for name in ("solved_at", "closed_at"):
            if current[name] is not None:
                fields[name] = end
        Ticket.objects.filter(pk=ticket.pk).update(**fields)
