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
        await h.Engine.UserLeftRoomAsync(Bob, "!r:example.org");

        Assert.That((await h.Engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.False);
    }

    [Test]
    public async Task ExcludedRoom_DoesNotMakeUsersVisible()
    {
        await using var h = await StartAsync(o => o.ExcludedRooms.Add("!huge:example.org"));
        await h.ShareRoomAsync("!huge:example.org", Alice, Bob);

        Assert.That((await h.Engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.False);
    }

    [Test]
    public async Task RoomLeftOutOfTheViewsAnswers_DoesNotMakeUsersVisible()
    {
        await using var h = await StartAsync();
        h.Rooms.ExcludeRoom("!huge:example.org");
        h.Rooms.Join("!huge:example.org", Alice); // the host leaves the room out of its answers and tells the engine nothing
        h.Rooms.Join("!huge:example.org", Bob);

        Assert.That((await h.Engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.False);
    }

    [Test]
    public async Task MembershipView_IsCachedAndKeptCurrentByJoinsWithoutAskingAgain()
    {
        var view = RoomView(("!r:example.org", [Alice, Bob]));
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, view, timeProvider: new FakeTimeProvider(EngineHarness.Start));
        await engine.StartAsync();

        for (int i = 0; i < 5; i++)
        {
            Assert.That((await engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.True);
        }

        await engine.UserJoinedRoomAsync(Eve, "!r:example.org"); // the cached room gains Eve in place
        Assert.That((await engine.GetPresenceAsync(Eve, Alice)).IsAllowed, Is.True);

        await view.Received(1).GetRoomsOfUserAsync(Alice, Arg.Any<CancellationToken>());
        await view.Received(1).GetMembersOfRoomAsync("!r:example.org", Arg.Any<CancellationToken>());
    }

    /// <summary>A substitute view over fixed rooms: each user's rooms and each room's members.</summary>
    private static IMembershipView RoomView(params (string Room, UserId[] Members)[] rooms)
    {
        var view = Substitute.For<IMembershipView>();
        view.GetRoomsOfUserAsync(Arg.Any<UserId>(), Arg.Any<CancellationToken>()).Returns(call =>
            new ValueTask<IReadOnlyCollection<string>>(rooms.Where(r => r.Members.Contains(call.Arg<UserId>())).Select(r => r.Room).ToArray()));
        view.GetMembersOfRoomAsync(Arg.Any<string>(), Arg.Any<CancellationToken>()).Returns(call =>
            new ValueTask<IReadOnlyCollection<UserId>>(rooms.Where(r => r.Room == call.Arg<string>()).SelectMany(r => r.Members).ToArray()));
        return view;
    }

    [Test]
    public async Task LeaverWhoseOwnSetWasNotCached_LosesVisibilityBothWays()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob); // leaves only Bob's set cached
        Assert.That((await h.Engine.GetPresenceAsync(Alice, Bob)).IsAllowed, Is.True);

        h.Rooms.Leave("!r:example.org", Alice);
        await h.Engine.UserLeftRoomAsync(Alice, "!r:example.org");

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
        await h.Engine.UserLeftRoomAsync(Alice, "!r:example.org");
        h.Engine.SetPresence(Bob, "D1", PresenceState.Online, "private now");

        Assert.That(aliceFeed.TryRead(out _), Is.False);
    }

    [Test]
    public async Task HostMutatingAReturnedCollection_DoesNotChangeWhatTheEngineCached()
    {
        var members = new List<UserId> { Alice, Bob };
        var view = Substitute.For<IMembershipView>();
        view.GetRoomsOfUserAsync(Arg.Any<UserId>(), Arg.Any<CancellationToken>()).Returns(new ValueTask<IReadOnlyCollection<string>>(["!r:example.org"]));
        view.GetMembersOfRoomAsync(Arg.Any<string>(), Arg.Any<CancellationToken>()).Returns(new ValueTask<IReadOnlyCollection<UserId>>(members));
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, view, timeProvider: new FakeTimeProvider(EngineHarness.Start));
        await engine.StartAsync();
        Assert.That((await engine.GetPresenceAsync(Bob, Alice)).IsAllowed, Is.True);

        members.Add(Eve);

        Assert.That((await engine.GetPresenceAsync(Eve, Alice)).IsAllowed, Is.False, "until the host says Eve joined");
    }

    [Test]
    public async Task MembershipCache_WhenFull_EvictsTheOldestEntry()
    {
        var view = RoomView();
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server, MembershipCacheCapacity = 2 }, view, timeProvider: new FakeTimeProvider(EngineHarness.Start));
        await engine.StartAsync();
        var (a, b, c) = (User("a"), User("b"), User("c"));
        var viewer = UserId.Parse("@viewer:remote.example");

        foreach (var target in new[] { a, b, c, b, c })
        {
            await engine.GetPresenceAsync(viewer, target);
        }

        await view.Received(1).GetRoomsOfUserAsync(b, Arg.Any<CancellationToken>());
        await view.Received(1).GetRoomsOfUserAsync(c, Arg.Any<CancellationToken>());
        await view.Received(1).GetRoomsOfUserAsync(a, Arg.Any<CancellationToken>());
        await engine.GetPresenceAsync(viewer, a); // evicted as the oldest: asked again
        await view.Received(2).GetRoomsOfUserAsync(a, Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task FailingMembershipView_NeitherBreaksInputsNorStopsTimeouts()
    {
        var view = Substitute.For<IMembershipView>();
        view.GetRoomsOfUserAsync(Arg.Any<UserId>(), Arg.Any<CancellationToken>())
            .Returns(_ => new ValueTask<IReadOnlyCollection<string>>([]), _ => throw new InvalidOperationException("view down"));
        var clock = new FakeTimeProvider(EngineHarness.Start);
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, view, timeProvider: clock);
        await engine.StartAsync();
        await using var feed = await engine.SubscribeAsync(Bob);

        Assert.DoesNotThrow(() => engine.Heartbeat(Alice, "D1"));
        clock.Advance(TimeSpan.FromSeconds(30));

        Assert.That((await engine.GetPresenceAsync(Alice, Alice)).Presence.State, Is.EqualTo(PresenceState.Offline));
    }
}
