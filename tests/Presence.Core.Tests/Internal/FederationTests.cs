using Presence.Internal;

namespace Presence.Core.Tests.Internal;

[CancelAfter(20_000)]
public sealed class FederationTests
{
    private static readonly ServerName A = ServerName.Parse("a.example");
    private static readonly ServerName B = ServerName.Parse("b.example");
    private static readonly UserId Alice = UserId.Parse("@alice:a.example");
    private static readonly UserId Bob = UserId.Parse("@bob:b.example");
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    [Test]
    public async Task LocalChange_ReachesAServerSharingARoom_WithinOneWindow_InOneMessage()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        await net.ShareRoomAsync(Alice, Bob);
        await using var bobFeed = await net[B].SubscribeAsync(Bob);
        bobFeed.TryRead(out _);

        net[A].SetPresence(Alice, "D1", PresenceState.Online, "hello b");
        Assert.That(net.Servers[A].Sent.Messages, Is.Empty, "nothing is sent on the caller's path");
        net.Clock.Advance(Window);

        Assert.That((await net[B].GetPresenceAsync(Bob, Alice)).Presence.StatusMessage, Is.EqualTo("hello b"));
        Assert.That(net.Network.SentBetween(A, B).Messages, Is.EqualTo(1));
        net.Clock.Advance(Window);
        Assert.That(bobFeed.TryRead(out var batch), Is.True);
        Assert.That(batch.Single().User, Is.EqualTo(Alice));
        Assert.That(batch.Single().State, Is.EqualTo(PresenceState.Online));
    }

    [Test]
    public async Task Poll_IsAnsweredAtOnce_AndChangesArePushedAfterwards()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        net[B].SetPresence(Bob, "D1", PresenceState.Unavailable, "away");
        await net.ShareRoomAsync(Alice, Bob);
        net.Clock.Advance(Window); // b's first flush to a, a window before the poll (it happens at the end of an advance)
        net.Clock.Advance(TimeSpan.FromMinutes(1) - Window);
        net[B].Heartbeat(Bob, "D1");
        int before = (int)net.Network.SentBetween(B, A).Messages;

        ((DefaultPresenceEngine)net[A]).Watch(Bob);

        var atA = await net.ReadAsync(A, Bob);
        Assert.That(atA.State, Is.EqualTo(PresenceState.Unavailable), "answered without any time passing");
        Assert.That(atA.StatusMessage, Is.EqualTo("away"));
        Assert.That(net.Network.SentBetween(B, A).Messages, Is.EqualTo(before + 1), "one answer");

        net[B].SetPresence(Bob, "D1", PresenceState.Online, "back");
        net.Clock.Advance(Window);

        Assert.That((await net.ReadAsync(A, Bob)).StatusMessage, Is.EqualTo("back"), "the promise: changes are pushed");
    }

    [Test]
    public async Task ForgedAndMalformedEntries_AreDroppedAndCounted_TheRestApplies()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        var carol = UserId.Parse("@carol:c.example");

        await net[A].ReceiveAsync(B, new PresenceMessage(
            push:
            [
                new PresenceSnapshot(carol, PresenceState.Online, "forged", null, false, DeviceKinds.None),
                new PresenceSnapshot(Bob, PresenceState.Unknown, null, null, false, DeviceKinds.None),
                new PresenceSnapshot(Bob, PresenceState.Online, new string('x', 5000), null, false, DeviceKinds.None),
                new PresenceSnapshot(Bob, PresenceState.Online, "fine", null, false, DeviceKinds.None),
            ],
            poll: [UserId.Parse("@zed:elsewhere.example")]));

        var metrics = net.Servers[A].Metrics;
        Assert.Multiple(async () =>
        {
            Assert.That((await net.ReadAsync(A, carol)).IsUnknown, Is.True, "a server speaks only for its own users");
            Assert.That((await net.ReadAsync(A, Bob)).StatusMessage, Is.EqualTo("fine"));
            Assert.That(metrics.Total(PresenceMetrics.InboundDropped, "forged_origin"), Is.EqualTo(1));
            Assert.That(metrics.Total(PresenceMetrics.InboundDropped, "bad_state"), Is.EqualTo(1));
            Assert.That(metrics.Total(PresenceMetrics.InboundDropped, "status_too_long"), Is.EqualTo(1));
            Assert.That(metrics.Total(PresenceMetrics.InboundDropped, "not_local"), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task FloodingPeer_IsCappedPerMessageAndPerSubscriptionCount()
    {
        await using var net = await FederationHarness.StartAsync([A, B], o =>
        {
            o.Federation.MaxInboundEntriesPerMessage = 10;
            o.Federation.MaxSubscriptionsPerPeer = 5;
        });
        var flood = Enumerable.Range(0, 50).Select(i => new PresenceSnapshot(UserId.Parse($"@u{i}:b.example"), PresenceState.Online, null, null, false, DeviceKinds.None)).ToList();
        var polls = Enumerable.Range(0, 8).Select(i => UserId.Parse($"@local{i}:a.example")).ToList();
        await net.ShareRoomAsync([.. polls, Bob]); // b has interest in every polled user
        foreach (var user in polls)
        {
            net[A].Heartbeat(user, "D1"); // polls for users with no presence at all are refused before any cap
        }

        await net[A].ReceiveAsync(B, new PresenceMessage(push: flood));
        await net[A].ReceiveAsync(B, new PresenceMessage(poll: polls));

        var metrics = net.Servers[A].Metrics;
        Assert.That(metrics.Total(PresenceMetrics.InboundDropped, "too_many_entries"), Is.EqualTo(40));
        Assert.That(metrics.Total(PresenceMetrics.InboundDropped, "subscription_cap"), Is.EqualTo(3));
        Assert.That((await net.ReadAsync(A, UserId.Parse("@u9:b.example"))).State, Is.EqualTo(PresenceState.Online));
        Assert.That((await net.ReadAsync(A, UserId.Parse("@u10:b.example"))).IsUnknown, Is.True);
    }

    [Test]
    public async Task SilentPeer_ShortWatchdogSendsAReminderWithTheCurrentStateOfSubscribedUsers()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        net[B].SetPresence(Bob, "D1", PresenceState.Online, "at my desk");
        await net.ShareRoomAsync(Alice, Bob);
        ((DefaultPresenceEngine)net[A]).Watch(Bob);
        var start = net.Clock.GetUtcNow();
        net.Network.SetDropping(A, true); // a hears nothing more from b; b hears nothing from a either after this
        net.Network.SetDropping(B, true);

        for (int i = 0; i < 3; i++)
        {
            net.Clock.Advance(TimeSpan.FromSeconds(20));
            net[B].Heartbeat(Bob, "D1"); // bob stays connected
        }

        var reminders = net.Servers[B].Sent.Messages.Where(m => m.Message.IsReminder).ToList();
        Assert.That(reminders, Has.Count.EqualTo(1));
        Assert.That(reminders[0].At - start, Is.EqualTo(TimeSpan.FromMinutes(1)));
        Assert.That(reminders[0].To, Is.EqualTo(A));
        Assert.That(reminders[0].Message.Push.Select(p => (p.User, p.State, p.StatusMessage)), Is.EqualTo(new[] { (Bob, PresenceState.Online, (string?)"at my desk") }));
        var fromA = net.Servers[A].Sent.Messages.Where(m => m.Message.IsReminder).ToList();
        Assert.That(fromA.Single().Message.Poll, Is.EqualTo(new[] { Bob }), "the watcher re-requests the users it watches");
        Assert.That(net.Servers[B].Metrics.Total(PresenceMetrics.WatchdogFired, "short"), Is.EqualTo(1));
    }

    [Test]
    public async Task TrafficFromThePeer_KeepsTheShortWatchdogQuiet()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        ((DefaultPresenceEngine)net[A]).Watch(Bob);

        for (int i = 0; i < 10; i++)
        {
            net.Clock.Advance(TimeSpan.FromSeconds(30));
            net[A].NoteTraffic(B); // chat traffic proves b is alive
            net[B].NoteTraffic(A);
        }

        Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.WatchdogFired), Is.Zero);
        Assert.That(net.Servers[B].Metrics.Total(PresenceMetrics.WatchdogFired), Is.Zero);
    }

    [Test]
    public async Task ReminderlessPeer_RemoteUserBecomesUnknownAfterThirtyMinutesWithoutUpdate()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        var synapse = ServerName.Parse("synapse.example");
        var sam = UserId.Parse("@sam:synapse.example");
        await net.ShareRoomAsync(Alice, sam);
        await using var feed = await net[A].SubscribeAsync(Alice);
        feed.TryRead(out _);

        await net[A].ReceiveAsync(synapse, new PresenceMessage(push: [new PresenceSnapshot(sam, PresenceState.Online, null, net.Clock.GetUtcNow(), true, DeviceKinds.None)]));
        net.Clock.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromMilliseconds(1));
        var before = await net.ReadAsync(A, sam);
        net.Clock.Advance(TimeSpan.FromMilliseconds(1));
        var after = await net.ReadAsync(A, sam);
        net.Clock.Advance(Window);

        Assert.That(before.State, Is.EqualTo(PresenceState.Online));
        Assert.That(after.State, Is.EqualTo(PresenceState.Unknown), "unknown, not offline");
        var seen = new List<PresenceSnapshot>();
        while (feed.TryRead(out var batch))
        {
            seen.AddRange(batch);
        }

        Assert.That(seen.Select(p => p.State), Is.EqualTo(new[] { PresenceState.Unknown }), "watchers are told: the unread online and the unknown fold into the latest");
    }

    [Test]
    public async Task RemindingPeer_UsersDoNotGoStaleByThePerUserRule()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);

        await net[A].ReceiveAsync(B, new PresenceMessage(push: [new PresenceSnapshot(Bob, PresenceState.Online, null, null, false, DeviceKinds.None)], isReminder: true));
        net.Clock.Advance(TimeSpan.FromMinutes(45));

        Assert.That((await net.ReadAsync(A, Bob)).State, Is.EqualTo(PresenceState.Online));
    }

    [Test]
    public async Task PeerFailingPastTheHorizon_IsGivenUp_AndStateIsCurrentAgainAfterItReturns()
    {
        await using var net = await FederationHarness.StartAsync([A, B], o => o.Federation.FailureHorizon = TimeSpan.FromMinutes(10));
        await net.ShareRoomAsync(Alice, Bob);
        ((DefaultPresenceEngine)net[B]).Watch(Alice);
        net[A].Heartbeat(Alice, "D1");
        net.Network.SetFailing(B, true);

        for (int i = 0; i < 12; i++)
        {
            net[A].SetPresence(Alice, "D1", PresenceState.Online, $"status {i}");
            net.Clock.Advance(TimeSpan.FromMinutes(1));
            net[A].Heartbeat(Alice, "D1");
        }

        Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.OutboundDropped), Is.GreaterThan(0), "the queue was dropped at the horizon");
        Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.OutboundFailures), Is.GreaterThan(0));

        net.Network.SetFailing(B, false);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "final");
        for (int i = 0; i < 6; i++)
        {
            net.Clock.Advance(TimeSpan.FromSeconds(20));
            net[A].Heartbeat(Alice, "D1");
        }

        Assert.That((await net.ReadAsync(B, Alice)).StatusMessage, Is.EqualTo("final"), "b's watchdog re-polls a and the state is current again");
    }

    [Test]
    public async Task MessageClaimingToComeFromThisServer_IsDroppedWhole()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        net[A].SetPresence(Alice, "D1", PresenceState.Online, "mine");

        await net[A].ReceiveAsync(A, new PresenceMessage(push: [new PresenceSnapshot(Alice, PresenceState.Offline, "forged", null, false, DeviceKinds.None)]));

        var alice = await net.ReadAsync(A, Alice);
        Assert.That(alice.State, Is.EqualTo(PresenceState.Online));
        Assert.That(alice.StatusMessage, Is.EqualTo("mine"));
        Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.InboundDropped, "self_origin"), Is.EqualTo(1));
    }

    [Test]
    public async Task RemindingPeer_UsersGoUnknownWhenThePromiseLapses()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        await net[A].ReceiveAsync(B, new PresenceMessage(isReminder: true, promiseLifetime: TimeSpan.FromHours(1)));

        await net[A].ReceiveAsync(B, new PresenceMessage(push: [new PresenceSnapshot(Bob, PresenceState.Online, null, null, false, DeviceKinds.None)], isReminder: true, promiseLifetime: TimeSpan.FromHours(1)));
        net.Clock.Advance(TimeSpan.FromHours(1) - TimeSpan.FromMilliseconds(1));
        var before = await net.ReadAsync(A, Bob);
        net.Clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.That(before.State, Is.EqualTo(PresenceState.Online));
        Assert.That((await net.ReadAsync(A, Bob)).IsUnknown, Is.True);
    }

    [Test]
    public async Task HostilePeer_CannotMakeTheEngineHoldMoreThanTheCapOfItsUsers()
    {
        await using var net = await FederationHarness.StartAsync([A, B], o => o.Federation.MaxRemoteUsersPerPeer = 100);

        for (int batch = 0; batch < 5; batch++)
        {
            var push = Enumerable.Range(batch * 100, 100).Select(i => new PresenceSnapshot(UserId.Parse($"@u{i}:b.example"), PresenceState.Online, null, null, false, DeviceKinds.None)).ToList();
            await net[A].ReceiveAsync(B, new PresenceMessage(push: push));
        }

        Assert.That(net.Servers[A].Metrics.Total(PresenceMetrics.InboundDropped, "remote_user_cap"), Is.EqualTo(400));
        Assert.That(net.Servers[A].Metrics.Observe(PresenceMetrics.TrackedUsers), Is.EqualTo(100));
        Assert.That((await net.ReadAsync(A, UserId.Parse("@u99:b.example"))).State, Is.EqualTo(PresenceState.Online), "users already held keep updating");
    }

    [Test]
    public async Task PeerWithNoInterestLeft_GetsNoReminders()
    {
        await using var net = await FederationHarness.StartAsync([A, B]);
        net[B].SetPresence(Bob, "D1", PresenceState.Online, null);
        var engineA = (DefaultPresenceEngine)net[A];
        engineA.Watch(Bob);
        engineA.Unwatch(Bob);
        int before = net.Servers[B].Sent.Messages.Count;

        net.Clock.Advance(TimeSpan.FromMinutes(5));

        Assert.That(net.Servers[B].Sent.Messages.Skip(before).Where(m => m.Message.IsReminder), Is.Empty);
        Assert.That(net.Servers[A].Sent.Messages.Where(m => m.Message.IsReminder), Is.Empty);
    }
}
