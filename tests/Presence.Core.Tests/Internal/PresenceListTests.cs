namespace Presence.Core.Tests.Internal;

[CancelAfter(20_000)]
public sealed class PresenceListTests
{
    private static readonly ServerName A = ServerName.Parse("a.example");
    private static readonly ServerName B = ServerName.Parse("b.example");
    private static readonly ServerName C = ServerName.Parse("c.example");
    private static readonly UserId Alice = UserId.Parse("@alice:a.example");
    private static readonly UserId Carol = UserId.Parse("@carol:a.example");
    private static readonly UserId Bob = UserId.Parse("@bob:b.example");
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private static Task<FederationHarness> ThreeServersAsync(Action<PresenceOptions>? configure = null) => FederationHarness.StartAsync([A, B, C], configure);

    private static IEnumerable<UserId> PushedUsers(FederationHarness net, ServerName from)
        => net.Servers[from].Sent.Messages.SelectMany(m => m.Message.Push).Select(p => p.User);

    private static List<PresenceSnapshot> Drain(IPresenceSubscription feed)
    {
        var seen = new List<PresenceSnapshot>();
        while (feed.TryRead(out var batch))
        {
            seen.AddRange(batch);
        }

        return seen;
    }

    [Test]
    public async Task RemoteAdd_Allowed_TheObserverSeesChangesWithinOneWindow()
    {
        await using var net = await ThreeServersAsync();
        await using var aliceFeed = await net[A].SubscribeAsync(Alice);
        Drain(aliceFeed);
        net[B].Heartbeat(Bob, "D1");

        var entry = await net[A].AddToPresenceListAsync(Alice, Bob);
        var pendingAtB = net[B].GetPendingRequests(Bob);
        var listWhilePending = net[A].GetPresenceList(Alice);
        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: true);
        var listAllowed = net[A].GetPresenceList(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(entry.State, Is.EqualTo(PresenceListState.Pending));
            Assert.That(pendingAtB.Select(e => e.Observer), Is.EqualTo(new[] { Alice }));
            Assert.That(listWhilePending.Single().Entry.State, Is.EqualTo(PresenceListState.Pending));
            Assert.That(listWhilePending.Single().Presence.IsUnknown, Is.True, "nothing is shown while pending");
            Assert.That(listAllowed.Single().Entry.State, Is.EqualTo(PresenceListState.Allowed));
            Assert.That(listAllowed.Single().Presence.State, Is.EqualTo(PresenceState.Online), "current at once: the answer carries it");
        });

        Assert.That(net.Network.SentBetween(A, B).Messages, Is.EqualTo(2), "the invite, then the poll once allowed (alice has a client)");
        Assert.That(net.Network.SentBetween(B, A).Messages, Is.EqualTo(2), "the accept carrying bob's presence, then the poll's answer");
        net.Clock.Advance(Window);
        Assert.That(Drain(aliceFeed).Where(p => p.User == Bob).Select(p => p.State), Is.EqualTo(new[] { PresenceState.Online }), "the accept's presence reached her feed");
        long bToA = net.Network.SentBetween(B, A).Messages;
        net[B].SetPresence(Bob, "D1", PresenceState.Unavailable, "lunch");
        net.Clock.Advance(Window);
        net.Clock.Advance(Window);

        var seen = Drain(aliceFeed);
        Assert.That(seen.Where(p => p.User == Bob).Select(p => p.StatusMessage), Does.Contain("lunch"));
        Assert.That(net.Network.SentBetween(B, A).Messages - bToA, Is.EqualTo(1), "one message for the change");
        Assert.That(net.Network.MessagesSentBy(C) + net.Network.SentBetween(A, C).Messages + net.Network.SentBetween(B, C).Messages, Is.Zero, "an uninvolved server hears nothing");
    }

    [Test]
    public async Task RemoteAdd_Denied_TheObserverNeverSeesTheTarget()
    {
        await using var net = await ThreeServersAsync();
        await using var aliceFeed = await net[A].SubscribeAsync(Alice);
        Drain(aliceFeed);

        await net[A].AddToPresenceListAsync(Alice, Bob);
        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: false);
        net[B].SetPresence(Bob, "D1", PresenceState.Online, "secret");
        net.Clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Multiple(async () =>
        {
            Assert.That(net[A].GetPresenceList(Alice).Single().Entry.State, Is.EqualTo(PresenceListState.Denied));
            Assert.That((await net[A].GetPresenceAsync(Alice, Bob)).IsAllowed, Is.False);
            Assert.That(Drain(aliceFeed).Select(p => p.User), Has.No.Member(Bob));
            Assert.That(PushedUsers(net, B), Has.No.Member(Bob), "b never sent bob's presence anywhere");
        });
    }

    [Test]
    public async Task Removing_TellsTheOtherServer_AndItStopsPushing()
    {
        await using var net = await ThreeServersAsync();
        await using var aliceFeed = await net[A].SubscribeAsync(Alice);
        await net[A].AddToPresenceListAsync(Alice, Bob);
        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: true);

        await net[A].RemoveFromPresenceListAsync(Alice, Bob);
        long bToA = net.Network.SentBetween(B, A).Messages;
        net[B].SetPresence(Bob, "D1", PresenceState.Online, "after removal");
        net.Clock.Advance(TimeSpan.FromMinutes(1));

        Assert.That(net[A].GetPresenceList(Alice), Is.Empty);
        Assert.That(net.Network.SentBetween(B, A).Messages, Is.EqualTo(bToA), "the grant ended on b too");
        await net[A].AddToPresenceListAsync(Alice, Bob);
        Assert.That(net[B].GetPendingRequests(Bob).Select(e => e.Observer), Is.EqualTo(new[] { Alice }), "asking again starts over: b kept no grant");
    }

    [Test]
    public async Task Polling_FollowsInterest_SubscribeWatches_DisposeUnwatches()
    {
        await using var net = await ThreeServersAsync();
        await net[A].AddToPresenceListAsync(Alice, Bob);
        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: true);
        var polls = () => net.Servers[A].Sent.Messages.SelectMany(m => m.Message.Poll).Count();
        var unpolls = () => net.Servers[A].Sent.Messages.SelectMany(m => m.Message.Unpoll).Count();
        int pollsWithoutClient = polls();

        var feed = await net[A].SubscribeAsync(Alice);
        int pollsWithClient = polls();
        await using (var second = await net[A].SubscribeAsync(Alice))
        {
            Assert.That(polls(), Is.EqualTo(pollsWithClient), "a second client of the same user does not poll again");
        }

        int unpollsWhileOneClientLeft = unpolls();
        await feed.DisposeAsync();

        Assert.That(pollsWithoutClient, Is.Zero, "no interest, no traffic");
        Assert.That(pollsWithClient, Is.EqualTo(1));
        Assert.That(unpollsWhileOneClientLeft, Is.Zero);
        Assert.That(unpolls(), Is.EqualTo(1), "the last client gone: unsubscribed");
    }

    [Test]
    public async Task PeerStopsDelivering_PromiseLapses_ThenStateIsCurrentAgain()
    {
        await using var net = await ThreeServersAsync();
        await using var aliceFeed = await net[A].SubscribeAsync(Alice);
        net[B].Heartbeat(Bob, "D1");
        await net[A].AddToPresenceListAsync(Alice, Bob);
        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: true);
        Assert.That((await net[A].GetPresenceAsync(Alice, Bob)).Presence.State, Is.EqualTo(PresenceState.Online));

        net.Network.SetDropping(A, true); // b's messages to a are lost
        for (int i = 0; i < 31 * 3; i++)
        {
            net.Clock.Advance(TimeSpan.FromSeconds(20));
            net[B].Heartbeat(Bob, "D1");
            await net.SettleAsync(); // a's reminder has reached b (whose answer may end on the thread pool) before the clock moves on
        }

        var lapsed = (await net[A].GetPresenceAsync(Alice, Bob)).Presence;
        int remindersFromA = net.Servers[A].Sent.Messages.Count(m => m.Message.IsReminder && m.To == B);
        net.Network.SetDropping(A, false);
        net[B].SetPresence(Bob, "D1", PresenceState.Online, "back");
        for (int i = 0; i < 6; i++)
        {
            net.Clock.Advance(TimeSpan.FromSeconds(20));
            net[B].Heartbeat(Bob, "D1");
            await net.SettleAsync();
        }

        Assert.That(remindersFromA, Is.GreaterThanOrEqualTo(25), "a reminded b and re-polled bob about once a minute");
        Assert.That(lapsed.IsUnknown, Is.True, "unknown after the promise lapsed, not offline");
        Assert.That((await net[A].GetPresenceAsync(Alice, Bob)).Presence.StatusMessage, Is.EqualTo("back"));
    }

    [Test]
    public async Task HiddenUser_LeaksNothingToAnyone()
    {
        await using var net = await ThreeServersAsync();
        await net.ShareRoomAsync(Alice, Carol, Bob);
        await using var carolFeed = await net[A].SubscribeAsync(Carol);
        await using var bobFeed = await net[B].SubscribeAsync(Bob);
        await net[B].AddToPresenceListAsync(Bob, Alice);
        await net[A].AnswerPresenceRequestAsync(Alice, Bob, allow: true);
        Drain(carolFeed);
        Drain(bobFeed);

        net[A].SetVisibility(Alice, PresenceVisibility.Nobody);
        int pushedBefore = PushedUsers(net, A).Count(u => u == Alice);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "hidden");
        ((Presence.Internal.DefaultPresenceEngine)net[B]).Watch(Alice);
        for (int i = 0; i < 6; i++)
        {
            net.Clock.Advance(TimeSpan.FromSeconds(20));
            net[A].Heartbeat(Alice, "D1");
        }

        Assert.Multiple(async () =>
        {
            var afterHiding = net.Servers[A].Sent.Messages.SelectMany(m => m.Message.Push).Where(p => p.User == Alice).Skip(pushedBefore).ToList();
            Assert.That(afterHiding.Select(p => (p.State, p.StatusMessage, p.LastActive)), Is.All.EqualTo((PresenceState.Offline, (string?)null, (DateTimeOffset?)null)),
                "after hiding, a says only a bare offline about alice: no state, status or last-active time");
            Assert.That(afterHiding, Has.Count.EqualTo(1), "the retraction, once");
            Assert.That(Drain(carolFeed).Where(p => p.User == Alice).Select(p => p.State), Is.EqualTo(new[] { PresenceState.Unknown }), "carol is told she can no longer see alice, nothing more");
            Assert.That(Drain(bobFeed).Where(p => p.User == Alice).Select(p => p.StatusMessage), Has.No.Member("hidden"));
            Assert.That((await net[A].GetPresenceAsync(Carol, Alice)).IsAllowed, Is.False);
            Assert.That((await net[A].GetPresenceAsync(Alice, Alice)).Presence.StatusMessage, Is.EqualTo("hidden"), "she still sees herself");
            Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.InboundDropped, "no_interest"), Is.GreaterThanOrEqualTo(1), "b's poll for her was refused");
        });
    }

    [Test]
    public async Task PresenceListOnly_RoomMembersSeeNothing_AcceptedObserversSeeAll()
    {
        await using var net = await ThreeServersAsync();
        await net.ShareRoomAsync(Alice, Carol);
        var dave = UserId.Parse("@dave:a.example");
        net[A].SetVisibility(Alice, PresenceVisibility.PresenceListOnly);
        await net[A].AddToPresenceListAsync(dave, Alice);
        await net[A].AnswerPresenceRequestAsync(Alice, dave, allow: true);

        net[A].SetPresence(Alice, "D1", PresenceState.Online, "list only");

        Assert.That((await net[A].GetPresenceAsync(Carol, Alice)).IsAllowed, Is.False, "sharing a room is not enough");
        Assert.That((await net[A].GetPresenceAsync(dave, Alice)).Presence.StatusMessage, Is.EqualTo("list only"));
    }

    [Test]
    public async Task LocalLists_PendingThenAnswered_AndUnknownRequestsAreRefused()
    {
        await using var net = await ThreeServersAsync();

        await net[A].AddToPresenceListAsync(Alice, Carol);
        var pending = net[A].GetPendingRequests(Carol);
        await net[A].AnswerPresenceRequestAsync(Carol, Alice, allow: true);
        net[A].Heartbeat(Carol, "D1");

        Assert.That(pending.Single().Observer, Is.EqualTo(Alice));
        Assert.That(net[A].GetPendingRequests(Carol), Is.Empty);
        Assert.That((await net[A].GetPresenceAsync(Alice, Carol)).Presence.State, Is.EqualTo(PresenceState.Online), "an accepted entry is enough without a shared room");
        var missing = await Assert.ThrowsAsync<PresenceException>(async () => await net[A].AnswerPresenceRequestAsync(Carol, UserId.Parse("@nobody:a.example"), true));
        var self = await Assert.ThrowsAsync<PresenceException>(async () => await net[A].AddToPresenceListAsync(Alice, Alice));
        Assert.That(missing!.ErrorCode, Is.EqualTo(PresenceErrorCodes.NotFound));
        Assert.That(self!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam));
        Assert.That(net.Network.MessagesSentBy(A), Is.Zero, "a local list needs no federation");
    }

    [Test]
    public async Task NewlySharedRoom_TheServerReceivesTheLocalUsersCurrentPresence()
    {
        await using var net = await ThreeServersAsync();
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "say hi");

        await net.ShareRoomAsync(Alice, Bob);
        net.Clock.Advance(Window);

        Assert.That((await net[B].GetPresenceAsync(Bob, Alice)).Presence.StatusMessage, Is.EqualTo("say hi"));
    }

    [Test]
    public async Task FloodOfInvites_IsCappedPerPeer()
    {
        await using var net = await ThreeServersAsync(o => o.Federation.MaxPendingInvitesPerPeer = 3);
        var invites = Enumerable.Range(0, 5).Select(i => new PresenceListRequest(PresenceListAction.Invite, UserId.Parse($"@spam{i}:b.example"), Alice)).ToList();

        await net[A].ReceiveAsync(B, new PresenceMessage(listRequests: invites));

        Assert.That(net[A].GetPendingRequests(Alice), Has.Count.EqualTo(3));
        Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.InboundDropped, "invite_cap"), Is.EqualTo(2));
    }

    [Test]
    public async Task Restart_KeepsListsPermissionsAndVisibility()
    {
        var clock = new FakeTimeProvider(EngineHarness.Start);
        var store = new InMemoryPresenceStore();
        var lists = new InMemoryPresenceListStore();
        var rooms = new InMemoryMembershipView();
        var options = new PresenceOptions { ServerName = A };
        await using (var first = PresenceEngine.Create(options, rooms, store, clock, listStore: lists))
        {
            await first.StartAsync();
            await first.AddToPresenceListAsync(Alice, Carol);
            await first.AnswerPresenceRequestAsync(Carol, Alice, allow: true);
            await first.AddToPresenceListAsync(Alice, Bob);
            first.SetVisibility(Carol, PresenceVisibility.PresenceListOnly);
        }

        var dave = UserId.Parse("@dave:a.example");
        rooms.Join("!r:a.example", dave);
        rooms.Join("!r:a.example", Carol); // dave shares a room with carol: only her visibility keeps him out
        await using var second = PresenceEngine.Create(options, rooms, store, clock, listStore: lists);
        await second.StartAsync();
        second.Heartbeat(Carol, "D1");

        var list = second.GetPresenceList(Alice);
        Assert.That(list.Select(i => (i.Entry.Observed, i.Entry.State)), Is.EqualTo(new[] { (Bob, PresenceListState.Pending), (Carol, PresenceListState.Allowed) }));
        Assert.That((await second.GetPresenceAsync(Alice, Carol)).Presence.State, Is.EqualTo(PresenceState.Online));
        Assert.That((await second.GetPresenceAsync(dave, Carol)).IsAllowed, Is.False, "visibility survived the restart");
    }

    [Test]
    public async Task ComingOnline_SendsOneCombinedMessage_StateAndPoll()
    {
        await using var net = await ThreeServersAsync();
        await net.ShareRoomAsync(Alice, Bob); // b has interest in alice
        await net[A].AddToPresenceListAsync(Alice, Bob);
        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: true);
        int before = net.Servers[A].Sent.Messages.Count(m => m.To == B);

        net[A].Heartbeat(Alice, "D1"); // alice's client connects: her new state is queued for b
        await using var feed = await net[A].SubscribeAsync(Alice); // ... and it cares about her list: poll bob

        var sent = net.Servers[A].Sent.Messages.Where(m => m.To == B).Skip(before).ToList();
        Assert.That(sent, Has.Count.EqualTo(1), "one message to b");
        Assert.That(sent[0].Message.Push.Select(p => p.User), Is.EqualTo(new[] { Alice }));
        Assert.That(sent[0].Message.Poll, Is.EqualTo(new[] { Bob }));
    }

    [Test]
    public async Task NewlySharedRoom_HiddenUserIsNotDeliveredToTheNewcomer()
    {
        await using var net = await ThreeServersAsync();
        net[A].SetVisibility(Alice, PresenceVisibility.Nobody);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "hidden");
        await using var carolFeed = await net[A].SubscribeAsync(Carol);
        Drain(carolFeed);

        await net.ShareRoomAsync(Alice, Carol, Bob);
        net.Clock.Advance(Window);
        net.Clock.Advance(Window);

        Assert.That(Drain(carolFeed).Select(p => p.User), Has.No.Member(Alice));
        Assert.That(PushedUsers(net, A), Has.No.Member(Alice));
    }

    [Test]
    public async Task AcceptFromAHiddenUser_CarriesNoPresence()
    {
        await using var net = await ThreeServersAsync();
        net[B].SetVisibility(Bob, PresenceVisibility.Nobody);
        net[B].SetPresence(Bob, "D1", PresenceState.Online, "hidden");
        await net[A].AddToPresenceListAsync(Alice, Bob);

        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: true);

        Assert.That(net[A].GetPresenceList(Alice).Single().Presence.IsUnknown, Is.True);
        Assert.That(PushedUsers(net, B), Has.No.Member(Bob));
    }

    [Test]
    public async Task RevokedPermission_StopsThePushes()
    {
        await using var net = await ThreeServersAsync();
        await using var aliceFeed = await net[A].SubscribeAsync(Alice);
        await net[A].AddToPresenceListAsync(Alice, Bob);
        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: true);

        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: false);
        long bToA = net.Network.SentBetween(B, A).Messages;
        net[B].SetPresence(Bob, "D1", PresenceState.Online, "not for alice");
        net.Clock.Advance(TimeSpan.FromMinutes(1));

        Assert.That(net[A].GetPresenceList(Alice).Single().Entry.State, Is.EqualTo(PresenceListState.Denied));
        Assert.That(net.Servers[B].Sent.Messages.SelectMany(m => m.Message.Push).Where(p => p.User == Bob).Select(p => p.StatusMessage), Has.No.Member("not for alice"));
        Assert.That(net.Network.SentBetween(B, A).Messages - bToA, Is.LessThanOrEqualTo(1), "at most a reminder-free poll refusal; no pushes of bob");
    }

    [Test]
    public async Task PresenceList_HasASizeLimit()
    {
        await using var net = await ThreeServersAsync(o => o.MaxPresenceListSize = 2);
        await net[A].AddToPresenceListAsync(Alice, Carol);
        await net[A].AddToPresenceListAsync(Alice, Bob);

        var error = await Assert.ThrowsAsync<PresenceException>(async () => await net[A].AddToPresenceListAsync(Alice, UserId.Parse("@x:c.example")));

        Assert.That(error!.Message, Does.Contain("MaxPresenceListSize"));
        Assert.That(error.ErrorCode, Is.EqualTo(PresenceErrorCodes.Unknown), "a server limit, documented as M_UNKNOWN");
        Assert.That(net[A].GetPresenceList(Alice), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task UnbalancedStopPolling_DoesNotUnwatchWhileAClientIsConnected()
    {
        await using var net = await ThreeServersAsync();
        await net[A].AddToPresenceListAsync(Alice, Bob);
        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: true);
        await using var feed = await net[A].SubscribeAsync(Alice);

        net[A].StartPolling(Alice);
        net[A].StopPolling(Alice);
        net[A].StopPolling(Alice); // one too many

        var unpolls = net.Servers[A].Sent.Messages.SelectMany(m => m.Message.Unpoll).Count();
        Assert.That(unpolls, Is.Zero, "the open subscription still holds bob");
    }
}
