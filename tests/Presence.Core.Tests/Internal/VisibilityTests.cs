using NSubstitute;
using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class VisibilityTests
{
    private static readonly UserId Alice = User("alice");
    private static readonly UserId Bob = User("bob");
    private static readonly UserId Eve = User("eve");
    private static readonly UserId Remote = UserId.Parse("@rita:remote.example");

    [Test]
    public async Task OwnPresence_IsAlwaysReadable()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");

        var result = await h.Engine.GetPresenceAsync(Alice, Alice);

        Assert.That(result.IsAllowed, Is.True);
        Assert.That(result.Presence.State, Is.EqualTo(PresenceState.Online));
    }

    [Test]
    public async Task SharedRoom_IsAllowed_NoSharedRoom_IsNotAllowed()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "hello");

        var bob = await h.Engine.GetPresenceAsync(Bob, Alice);
        var eve = await h.Engine.GetPresenceAsync(Eve, Alice);

        Assert.Multiple(() =>
        {
            Assert.That(bob.IsAllowed, Is.True);
            Assert.That(bob.Presence.StatusMessage, Is.EqualTo("hello"));
            Assert.That(eve.IsAllowed, Is.False);
            Assert.That(() => eve.Presence, Throws.InvalidOperationException);
        });
    }

    [Test]
    public async Task NoInformation_ReadsAsUnknownNotOffline()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob, Remote);

        var neverSeen = await h.Engine.GetPresenceAsync(Alice, Bob);
        var remote = await h.Engine.GetPresenceAsync(Alice, Remote);

        Assert.Multiple(() =>
        {
            Assert.That(neverSeen.Presence.State, Is.EqualTo(PresenceState.Unknown));
            Assert.That(neverSeen.Presence.IsUnknown, Is.True);
            Assert.That(remote.Presence.State, Is.EqualTo(PresenceState.Unknown));
            Assert.That(remote.Presence.LastActive, Is.Null);
        });
    }

    [Test]
    public async Task LeavingTheLastSharedRoom_RevokesVisibilityOnceTheEngineIsTold()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        h.Engine.Heartbeat(Alice, "D1");
        Assert.That((await h.Engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.True);

        h.Rooms.Leave("!r:example.org", Bob);
        await h.Engine.MembershipChangedAsync(Bob);

        Assert.That((await h.Engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.False);
    }

    [Test]
    public async Task ExcludedRoom_DoesNotMakeUsersVisible()
    {
        await using var h = await StartAsync();
        h.Rooms.ExcludeRoom("!huge:example.org");
        await h.ShareRoomAsync("!huge:example.org", Alice, Bob);

        Assert.That((await h.Engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.False);
    }

    [Test]
    public async Task MembershipView_IsCachedUntilTheEngineIsTold()
    {
        var view = Substitute.For<IMembershipView>();
        view.GetUsersSharingRoomAsync(Arg.Any<UserId>(), Arg.Any<CancellationToken>())
            .Returns(new ValueTask<IReadOnlySet<UserId>>(new HashSet<UserId> { Alice, Bob }));
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, view, timeProvider: new FakeTimeProvider(EngineHarness.Start));
        await engine.StartAsync();

        for (int i = 0; i < 5; i++)
        {
            await engine.GetPresenceAsync(Bob, Alice);
        }

        await engine.MembershipChangedAsync(Alice);
        await engine.GetPresenceAsync(Bob, Alice);

        await view.Received(2).GetUsersSharingRoomAsync(Alice, Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task LeaverWhoseOwnSetWasNotCached_LosesVisibilityBothWays()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob); // leaves only Bob's set cached
        Assert.That((await h.Engine.GetPresenceAsync(Alice, Bob)).IsAllowed, Is.True);

        h.Rooms.Leave("!r:example.org", Alice);
        await h.Engine.MembershipChangedAsync(Alice);

        Assert.That((await h.Engine.GetPresenceAsync(Alice, Bob)).IsAllowed, Is.False);
        Assert.That((await h.Engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.False);
    }

    [Test]
    public async Task Leaver_NoLongerReceivesTheOthersChanges()
    {
        await using var h = await StartAsync(o => o.ClientBatchWindow = TimeSpan.Zero);
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        await using var aliceFeed = await h.Engine.SubscribeAsync(Alice);
        aliceFeed.TryRead(out _);

        h.Rooms.Leave("!r:example.org", Alice);
        await h.Engine.MembershipChangedAsync(Alice);
        h.Engine.SetPresence(Bob, "D1", PresenceState.Online, "private now");

        Assert.That(aliceFeed.TryRead(out _), Is.False);
    }

    [Test]
    public async Task HostMutatingAReturnedSet_DoesNotChangeWhatTheEngineCached()
    {
        var set = new HashSet<UserId> { Alice, Bob };
        var view = Substitute.For<IMembershipView>();
        view.GetUsersSharingRoomAsync(Arg.Any<UserId>(), Arg.Any<CancellationToken>()).Returns(new ValueTask<IReadOnlySet<UserId>>(set));
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, view, timeProvider: new FakeTimeProvider(EngineHarness.Start));
        await engine.StartAsync();
        Assert.That((await engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.True);

        set.Add(Eve);

        Assert.That((await engine.GetPresenceAsync(Eve, Alice)).IsAllowed, Is.False, "until the host says membership changed");
    }

    [Test]
    public async Task MembershipCache_WhenFull_EvictsTheOldestEntry()
    {
        var view = Substitute.For<IMembershipView>();
        view.GetUsersSharingRoomAsync(Arg.Any<UserId>(), Arg.Any<CancellationToken>())
            .Returns(new ValueTask<IReadOnlySet<UserId>>(new HashSet<UserId>()));
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server, MembershipCacheCapacity = 2 }, view, timeProvider: new FakeTimeProvider(EngineHarness.Start));
        await engine.StartAsync();
        var (a, b, c) = (User("a"), User("b"), User("c"));
        var viewer = UserId.Parse("@viewer:remote.example");

        foreach (var target in new[] { a, b, c, b, c })
        {
            await engine.GetPresenceAsync(viewer, target);
        }

        await view.Received(1).GetUsersSharingRoomAsync(b, Arg.Any<CancellationToken>());
        await view.Received(1).GetUsersSharingRoomAsync(c, Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task FailingMembershipView_NeitherBreaksInputsNorStopsTimeouts()
    {
        var view = Substitute.For<IMembershipView>();
        view.GetUsersSharingRoomAsync(Arg.Any<UserId>(), Arg.Any<CancellationToken>())
            .Returns(_ => new ValueTask<IReadOnlySet<UserId>>(new HashSet<UserId>()), _ => throw new InvalidOperationException("view down"));
        var clock = new FakeTimeProvider(EngineHarness.Start);
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, view, timeProvider: clock);
        await engine.StartAsync();
        await using var feed = await engine.SubscribeAsync(Bob);

        Assert.DoesNotThrow(() => engine.Heartbeat(Alice, "D1"));
        clock.Advance(TimeSpan.FromSeconds(30));

        Assert.That((await engine.GetPresenceAsync(Alice, Alice)).Presence.State, Is.EqualTo(PresenceState.Offline));
    }
}
