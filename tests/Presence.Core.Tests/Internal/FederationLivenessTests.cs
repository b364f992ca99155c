using Presence.Internal;

namespace Presence.Core.Tests.Internal;

/// <summary>Issue 10: liveness for room peers, urgency tiers, riding the host's transactions, the send contract, bounded inbound work.</summary>
[CancelAfter(60_000)]
public sealed class FederationLivenessTests
{
    private static readonly ServerName A = ServerName.Parse("a.example");
    private static readonly ServerName B = ServerName.Parse("b.example");
    private static readonly ServerName C = ServerName.Parse("c.example");
    private static readonly UserId Alice = UserId.Parse("@alice:a.example");
    private static readonly UserId Bob = UserId.Parse("@bob:b.example");
    private static readonly UserId Carl = UserId.Parse("@carl:c.example");

    private static IEnumerable<(DateTimeOffset At, ServerName To, PresenceMessage Message)> SentTo(FederationHarness net, ServerName from, ServerName to)
        => net.Servers[from].Sent.Messages.Where(m => m.To == to);

    /// <summary>Keeps alice connected (a sync every 20 s) for <paramref name="duration"/>.</summary>
    private static void StayOnline(FederationHarness net, TimeSpan duration, Action? every20s = null)
    {
        for (var t = TimeSpan.Zero; t < duration; t += TimeSpan.FromSeconds(20))
        {
            net.Clock.Advance(TimeSpan.FromSeconds(20));
            net[A].Heartbeat(Alice, "D1");
            every20s?.Invoke();
        }
    }

    [Test]
    public async Task RoomOnlyPeers_OfBothKinds_StayFreshForHours()
    {
        await using var net = await FederationHarness.StartAsync([A, B, C]);
        await net.ShareRoomAsync(Alice, Bob, Carl);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "here all day");
        net[B].SetPresence(Bob, "D1", PresenceState.Online, null); // b speaks the protocol: its messages carry the ordering key
        net.Clock.Advance(TimeSpan.FromSeconds(30));

        var seenAtB = new List<PresenceState>();
        var seenAtC = new List<PresenceState>();
        var atA = new List<PresenceState>();
        for (int hour = 0; hour < 3; hour++)
        {
            StayOnline(net, TimeSpan.FromHours(1), () => net[B].Heartbeat(Bob, "D1"));
            atA.Add((await net.ReadAsync(A, Alice)).State);
            seenAtB.Add((await net[B].GetPresenceAsync(Bob, Alice)).Presence.State);
            seenAtC.Add((await net[C].GetPresenceAsync(Carl, Alice)).Presence.State);
        }

        Assert.That(atA, Is.All.Not.EqualTo(PresenceState.Offline).And.All.Not.EqualTo(PresenceState.Unknown), "she stays connected (idle: unavailable)");
        Assert.That(seenAtB, Is.EqualTo(atA), "a protocol peer sharing only a room sees her current state every hour, never unknown");
        Assert.That(seenAtC, Is.EqualTo(atA), "so does a peer that shares only a room too");
        Assert.That(((DefaultPresenceEngine)net[A]).IsProtocolPeer(B), Is.True, "b's messages carry the ordering key");
    }

    [Test]
    public async Task SpecOnlyPeer_SeesAReSendBefore25Minutes_AndNothingMore()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        var synapse = ServerName.Parse("synapse.example");
        var sam = UserId.Parse("@sam:synapse.example");
        net.Network.SetDropping(synapse, true); // nobody answers: a peer that never sends our keys
        net.Rooms.Join("!room:a.example", sam);
        await net.ShareRoomAsync(Alice);
        await net[A].UserJoinedRoomAsync(sam, "!room:a.example");
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "hi");
        var start = net.Clock.GetUtcNow();

        StayOnline(net, TimeSpan.FromMinutes(50));

        var sends = SentTo(net, A, synapse).Where(m => m.Message.Push.Any(p => p.User == Alice)).Select(m => m.At - start).ToList();
        Assert.That(sends[0], Is.LessThanOrEqualTo(TimeSpan.FromSeconds(20)), "the change itself, in the first 20-second step");
        var gaps = sends.Zip(sends.Skip(1), (x, y) => y - x).ToList();
        Assert.That(gaps, Is.All.LessThan(TimeSpan.FromMinutes(25)), "re-sent before the peer's 30-minute expiry, with room to spare");
        var settled = sends.Where(at => at > TimeSpan.FromMinutes(6)).ToList(); // after her last change (unavailable at 5 minutes)
        Assert.That(settled, Has.Count.InRange(2, 3), "one re-send per 20-minute cycle in the 44 minutes after, and nothing more");
        Assert.That(SentTo(net, A, synapse).Where(m => m.Message.IsReminder), Is.Empty, "no reminders to a room-only spec peer");
    }

    [Test]
    public async Task CurrentlyActiveFlips_NeverGoToProtocolPeers_AndGoLazilyToSpecOnlyPeers()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        var synapse = ServerName.Parse("synapse.example");
        var sam = UserId.Parse("@sam:synapse.example");
        net.Network.SetDropping(synapse, true);
        await net.ShareRoomAsync(Alice, Bob);
        net.Rooms.Join("!room:a.example", sam);
        await net[A].UserJoinedRoomAsync(sam, "!room:a.example");
        net[B].SetPresence(Bob, "D1", PresenceState.Online, null); // b's first message marks it a protocol peer at a
        net[A].SetPresence(Alice, "D1", PresenceState.Online, null);
        net.Clock.Advance(TimeSpan.FromSeconds(10));
        int toB = SentTo(net, A, B).Count();
        int toSynapse = SentTo(net, A, synapse).Count();
        var flipAt = net.Clock.GetUtcNow() + TimeSpan.FromSeconds(50); // currently_active ends 60 s after her activity

        for (int i = 0; i < 15; i++)
        {
            net.Clock.Advance(TimeSpan.FromSeconds(10));
            net[A].Heartbeat(Alice, "D1");
            net[B].Heartbeat(Bob, "D1");
        }

        var laterToB = SentTo(net, A, B).Skip(toB).SelectMany(m => m.Message.Push).Where(p => p.User == Alice).ToList();
        var flipToSynapse = SentTo(net, A, synapse).Skip(toSynapse).Where(m => m.Message.Push.Any(p => p.User == Alice && !p.CurrentlyActive)).ToList();
        Assert.That(laterToB, Is.Empty, "a protocol peer derives currently_active from last-active: the flip is never sent");
        Assert.That(flipToSynapse, Has.Count.EqualTo(1), "a spec-only peer gets the flip");
        Assert.That(flipToSynapse[0].At - flipAt, Is.InRange(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(61)), "lazily: within the lazy window (+1 s), not the batch window");
        Assert.That((await net[B].GetPresenceAsync(Bob, Alice)).Presence.CurrentlyActive, Is.False, "b derived it");
    }

    [Test]
    public async Task Riding_ChatTransactionsEveryFewSeconds_NoPresenceOnlySend_AndPresenceArrivesInTime()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        await net.ShareRoomAsync(Alice, Bob);
        net[A].Heartbeat(Alice, "D1");
        net.Clock.Advance(TimeSpan.FromSeconds(30)); // settle: the first state went out
        int ownSends = SentTo(net, A, B).Count();
        var outbox = net[A].Outbox;
        var arrivals = new List<TimeSpan>();

        for (int i = 0; i < 40; i++)
        {
            var changedAt = net.Clock.GetUtcNow();
            net[A].SetPresence(Alice, "D1", i % 2 == 0 ? PresenceState.Unavailable : PresenceState.Online, $"status {i}");
            for (int tick = 0; tick < 5; tick++)
            {
                net.Clock.Advance(TimeSpan.FromSeconds(3));
                net[A].Heartbeat(Alice, "D1");
                using var batch = outbox.TryTake(B); // the host builds a chat transaction for b
                if (batch is not null)
                {
                    foreach (var message in batch.Messages)
                    {
                        await net[B].ReceiveAsync(A, message);
                    }

                    batch.Complete();
                }

                net[B].NoteTraffic(A);
                if ((await net[B].GetPresenceAsync(Bob, Alice)).Presence.StatusMessage == $"status {i}" && arrivals.Count == i)
                {
                    arrivals.Add(net.Clock.GetUtcNow() - changedAt);
                }
            }
        }

        Assert.That(SentTo(net, A, B).Count() - ownSends, Is.Zero, "every change rode a chat transaction");
        Assert.That(arrivals, Has.Count.EqualTo(40));
        Assert.That(arrivals, Is.All.LessThanOrEqualTo(TimeSpan.FromSeconds(10)), "within the batch window");
    }

    [Test]
    public async Task FailedRide_IsOwedAgain_AndTheDeadlineSendCarriesIt()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        await net.ShareRoomAsync(Alice, Bob);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "first");

        using (var batch = net[A].Outbox.TryTake(B))
        {
            Assert.That(batch, Is.Not.Null);
            Assert.That(net[A].Outbox.TryTake(B), Is.Null, "one send in flight per destination");
        } // disposed without Complete: the host's send failed

        net.Clock.Advance(TimeSpan.FromSeconds(12));

        Assert.That((await net.ReadAsync(B, Alice)).StatusMessage, Is.EqualTo("first"), "retried through the transport");
    }

    [Test]
    public async Task OversizedQueuesOfEveryKind_AreSplitToTheReceiversLimits()
    {
        await using var net = await FederationHarness.StartAsync([A, B], o => o.Federation.MaxEntriesPerMessage = 100);
        var remote = Enumerable.Range(0, 250).Select(i => UserId.Parse($"@r{i}:b.example")).ToArray();
        var local = Enumerable.Range(0, 250).Select(i => UserId.Parse($"@l{i}:a.example")).ToArray();
        var lists = Enumerable.Range(0, 120).Select(i => new PresenceListRequest(PresenceListAction.Invite, local[i], remote[i])).ToArray();
        net.Network.SetDropping(B, true);

        ((DefaultPresenceEngine)net[A]).SendNowForTest(B, remote[..200], remote[200..], lists);

        var sent = SentTo(net, A, B).Select(m => m.Message).ToList();
        Assert.That(sent.Sum(m => m.Poll.Count), Is.EqualTo(200));
        Assert.That(sent.Sum(m => m.Unpoll.Count), Is.EqualTo(50));
        Assert.That(sent.Sum(m => m.ListRequests.Count), Is.EqualTo(120));
        Assert.That(sent.Select(m => m.EntryCount), Is.All.LessThanOrEqualTo(100), "every message within the per-message limit");
        Assert.That(sent.Select(m => m.ListRequests.Count), Is.All.LessThanOrEqualTo(OutboundScheduler.MaxListRequestsPerMessage), "and within Matrix's EDUs per transaction");
        Assert.That(sent.Select(m => m.Sequence), Is.Ordered.Ascending.And.All.Not.Null, "each carries an ordering key");
    }

    [Test]
    public async Task SlowSend_IsCancelledThroughItsToken_AndItsOlderStateIsNeverApplied()
    {
        await using var net = await FederationHarness.StartAsync([A, B], o => o.Federation.SendTimeout = TimeSpan.FromSeconds(5));
        await net.ShareRoomAsync(Alice, Bob);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "old");
        net.Network.SetDelay(B, TimeSpan.FromSeconds(60)); // the peer hangs
        net.Clock.Advance(TimeSpan.FromSeconds(10)); // "old" is in flight
        var start = net.Clock.GetUtcNow();
        net.Network.SetDelay(B, TimeSpan.Zero);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "new");

        for (int i = 0; i < 60; i++)
        {
            net.Clock.Advance(TimeSpan.FromSeconds(1));
            net[A].Heartbeat(Alice, "D1");
            if (net.Clock.GetUtcNow() - start >= TimeSpan.FromSeconds(5))
            {
                await net.SettleAsync(); // past the timeout the cancelled send ends on the thread pool: it has ended before the clock moves on
            }
        }

        Assert.That((await net.ReadAsync(B, Alice)).StatusMessage, Is.EqualTo("new"), "the hung send was cancelled, never landed after the newer one");
        Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.OutboundFailures), Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task OlderMessageFromTheSameOrigin_ArrivingLate_IsNotApplied()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        var newer = new PresenceMessage(push: [new PresenceSnapshot(Bob, PresenceState.Online, "newer", null, false, DeviceKinds.None)]) { Sequence = 20 };
        var older = new PresenceMessage(push: [new PresenceSnapshot(Bob, PresenceState.Offline, "older", null, false, DeviceKinds.None)]) { Sequence = 10 };

        await net[A].ReceiveAsync(B, newer);
        await net[A].ReceiveAsync(B, older);

        Assert.That((await net.ReadAsync(A, Bob)).StatusMessage, Is.EqualTo("newer"));
        Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.InboundDropped, "stale_order"), Is.EqualTo(1));
    }

    [Test]
    public async Task RepeatedInvites_KeepTheQueueFlat_AndCostNoStoreWrite()
    {
        var lists = new[] { new InMemoryPresenceListStore(), new InMemoryPresenceListStore() };
        await using var net = await FederationHarness.StartAsync([A, B], listStores: lists);
        var eve = UserId.Parse("@eve:b.example");
        net.Network.SetFailing(B, true); // answers pile up for b
        await net[A].ReceiveAsync(B, new PresenceMessage(listRequests: [new PresenceListRequest(PresenceListAction.Invite, eve, Alice)]));
        await net[A].AnswerPresenceRequestAsync(Alice, eve, allow: false);
        var engine = (DefaultPresenceEngine)net[A];
        int afterFirst = engine.OutboundQueued;

        for (int i = 0; i < 2000; i++)
        {
            await net[A].ReceiveAsync(B, new PresenceMessage(listRequests: [new PresenceListRequest(PresenceListAction.Invite, eve, Alice)]));
        }

        Assert.That(engine.OutboundQueued, Is.EqualTo(afterFirst), "one queued answer for the pair, however often it is asked");
        Assert.That(afterFirst, Is.LessThanOrEqualTo(1));
    }

    [Test]
    public async Task Shutdown_DrainsWhatWaitsInTheBatchWindow()
    {
        var net = await FederationHarness.StartAsync([A, B]);
        await net.ShareRoomAsync(Alice, Bob);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "last words");

        await net[A].DisposeAsync();

        Assert.That(SentTo(net, A, B).SelectMany(m => m.Message.Push).Select(p => p.StatusMessage), Does.Contain("last words"));
        Assert.That((await net.ReadAsync(B, Alice)).StatusMessage, Is.EqualTo("last words"));
        await net.DisposeAsync();
    }

    [Test]
    public async Task FailingPeer_InboundTrafficFromIt_RetriesAtOnce()
    {
        await using var net = await FederationHarness.StartAsync([A, B], o => o.Federation.RetryInitialDelay = TimeSpan.FromMinutes(5));
        await net.ShareRoomAsync(Alice, Bob);
        net.Network.SetFailing(B, true);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "during the outage");
        net.Clock.Advance(TimeSpan.FromSeconds(10)); // fails; the retry is minutes away
        net.Network.SetFailing(B, false);

        net[A].NoteTraffic(B); // b's chat reaches us: it is up

        Assert.That((await net.ReadAsync(B, Alice)).StatusMessage, Is.EqualTo("during the outage"), "no time passed");
    }

    [Test]
    public async Task PeerUnreachableFor20Minutes_HoldsTheFinalStateWithin10s_OfItsFirstTraffic()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        await net.ShareRoomAsync(Alice, Bob);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "before");
        net.Clock.Advance(TimeSpan.FromSeconds(20));
        Assert.That((await net.ReadAsync(B, Alice)).StatusMessage, Is.EqualTo("before"));

        net.Network.SetFailing(B, true);
        int step = 0;
        StayOnline(net, TimeSpan.FromMinutes(20), () => net[A].SetPresence(Alice, "D1", PresenceState.Online, $"during {++step}"));
        net.Network.SetFailing(B, false);
        net[A].NoteTraffic(B); // b's first transaction after its outage
        await net.SettleAsync(); // the retry has ended before the clock moves on
        net.Clock.Advance(TimeSpan.FromSeconds(10));
        await net.SettleAsync();

        Assert.That((await net.ReadAsync(B, Alice)).StatusMessage, Is.EqualTo($"during {step}"), "the final state, not one queued before it");
    }

    [Test]
    public async Task PeerUnreachablePastTheFailureHorizon_IsOwedWhatItMaySee_WhenHeardFromAgain()
    {
        await using var net = await FederationHarness.StartAsync([A, B], o =>
        {
            o.Federation.RetryMaxDelay = TimeSpan.FromMinutes(2);
            o.Federation.FailureHorizon = TimeSpan.FromMinutes(5); // the queue is dropped 5 minutes into a 20-minute outage
        });
        await net.ShareRoomAsync(Alice, Bob);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "before");
        net.Clock.Advance(TimeSpan.FromSeconds(20));

        net.Network.SetFailing(B, true);
        net[A].SetPresence(Alice, "D1", PresenceState.Unavailable, "last words"); // her last change, dropped with the queue
        StayOnline(net, TimeSpan.FromMinutes(20));
        Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.OutboundDropped), Is.GreaterThanOrEqualTo(1), "the queue was dropped at the horizon");
        Assert.That((await net.ReadAsync(B, Alice)).StatusMessage, Is.EqualTo("before"));

        net.Network.SetFailing(B, false);
        net[A].NoteTraffic(B); // b is heard from again
        await net.SettleAsync(); // what is owed again has been sent before the clock moves on
        net.Clock.Advance(TimeSpan.FromSeconds(10));
        await net.SettleAsync();

        var read = await net.ReadAsync(B, Alice);
        Assert.That((read.State, read.StatusMessage), Is.EqualTo((PresenceState.Unavailable, "last words")), "owed again at once, not at the next refresh cycle");
    }

    [Test]
    public async Task PollForAListEntryNeverSeenYet_Stands_SoItsFirstComingOnlineIsPushed()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        await net[A].AddToPresenceListAsync(Alice, Bob);
        await net[B].AnswerPresenceRequestAsync(Bob, Alice, allow: true);
        net.Clock.Advance(TimeSpan.FromMinutes(10)); // bob has never synced; nothing of his is held or stored on b

        net[A].StartPolling(Alice); // her client comes online and cares: bob is polled
        net.Clock.Advance(TimeSpan.FromSeconds(20));
        await net.SettleAsync(); // the poll and its (empty) answer have ended
        net[B].Heartbeat(Bob, "D1"); // bob comes online for the first time
        net.Clock.Advance(TimeSpan.FromSeconds(11));
        await net.SettleAsync();

        Assert.That((await net[A].GetPresenceAsync(Alice, Bob)).Presence.State, Is.EqualTo(PresenceState.Online), "pushed to the poller within the batch window");
    }

    [Test]
    public async Task PollsForThreeUsersOnOneServer_GoAsOneMessage()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        var bobs = new[] { Bob, UserId.Parse("@bea:b.example"), UserId.Parse("@ben:b.example") };
        foreach (var target in bobs)
        {
            net[B].Heartbeat(target, "D1");
            await net[A].AddToPresenceListAsync(Alice, target);
            await net[B].AnswerPresenceRequestAsync(target, Alice, allow: true);
        }

        int before = SentTo(net, A, B).Count();

        await using var feed = await net[A].SubscribeAsync(Alice); // a client that cares: all three are polled

        var polls = SentTo(net, A, B).Skip(before).Where(m => m.Message.Poll.Count > 0).ToList();
        Assert.That(polls, Has.Count.EqualTo(1));
        Assert.That(polls[0].Message.Poll, Is.EquivalentTo(bobs));
    }

    [Test]
    public async Task InboundPoll_ForAUserWhoDoesNotExist_CostsNoMembershipLookup()
    {
        var view = new CountingMembershipView();
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = A }, view);
        await engine.StartAsync();
        var ghosts = Enumerable.Range(0, 500).Select(i => UserId.Parse($"@ghost{i}:a.example")).ToList();

        await engine.ReceiveAsync(B, new PresenceMessage(poll: ghosts));

        Assert.That(view.Lookups, Is.Zero);
    }

    [Test]
    public async Task InviteForAUserWithoutAnAccount_IsRefused_AndNothingIsStored()
    {
        var view = new CountingMembershipView();
        var lists = new InMemoryPresenceListStore();
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = A }, view, listStore: lists);
        await engine.StartAsync();
        var ghost = UserId.Parse("@ghost:a.example");

        await engine.ReceiveAsync(B, new PresenceMessage(listRequests: [new PresenceListRequest(PresenceListAction.Invite, Bob, ghost)]));

        Assert.That(engine.GetPendingRequests(ghost), Is.Empty);
        Assert.That(await lists.LoadAllAsync(CancellationToken.None).ToListAsync(), Is.Empty);
    }

    [Test]
    public async Task PeersBusy_IsShownAsOnline_WhereBusyIsDisabled()
    {
        await using var net = await FederationHarness.StartAsync([A, B], o => o.EnableBusy = false);

        await net[A].ReceiveAsync(B, new PresenceMessage(push: [new PresenceSnapshot(Bob, PresenceState.Busy, "focus", null, false, DeviceKinds.None)]));

        Assert.That((await net.ReadAsync(A, Bob)).State, Is.EqualTo(PresenceState.Online));
    }

    private sealed class CountingMembershipView : IMembershipView, ILocalUserDirectory
    {
        public int Lookups;

        public ValueTask<IReadOnlyCollection<string>> GetRoomsOfUserAsync(UserId user, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Lookups);
            return new([]);
        }

        public ValueTask<IReadOnlyCollection<UserId>> GetMembersOfRoomAsync(string roomId, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Lookups);
            return new([]);
        }

        public ValueTask<bool> UserExistsAsync(UserId user, CancellationToken cancellationToken) => new(false);
    }
}
