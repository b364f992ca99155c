using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class SubscriptionTests
{
    private static readonly UserId Alice = User("alice");
    private static readonly UserId Bob = User("bob");
    private static readonly UserId Carol = User("carol");
    private static readonly UserId Eve = User("eve");
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Test]
    public async Task FirstBatch_IsTheCurrentPresenceOfEveryoneVisible_AtOnce()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob, Carol);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "hi");
        h.Engine.Heartbeat(Bob, "D1");
        h.Engine.Heartbeat(Eve, "D1");

        await using var sub = await h.Engine.SubscribeAsync(Bob);

        Assert.That(sub.TryRead(out var batch), Is.True);
        Assert.That(batch.Select(p => (p.User, p.State)), Is.EquivalentTo(new[] { (Bob, PresenceState.Online), (Alice, PresenceState.Online) }));
        Assert.That(sub.TryRead(out _), Is.False);
    }

    [Test]
    public async Task Changes_AreBatchedPerWindow_LatestPerUserInFirstQueuedOrder()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob, Carol);
        await using var sub = await h.Engine.SubscribeAsync(Carol);
        Assert.That(sub.TryRead(out var initial), Is.True);
        Assert.That(initial, Is.Empty, "the first batch is ready at once, even when empty");

        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "first");
        h.Advance(TimeSpan.FromSeconds(2));
        h.Engine.Heartbeat(Bob, "D1");
        h.Advance(TimeSpan.FromSeconds(2));
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "second");
        h.Advance(Window - TimeSpan.FromSeconds(4) - Ms);
        bool earlyBatch = sub.TryRead(out _);

        h.Advance(Ms);

        Assert.That(earlyBatch, Is.False, "nothing before the window ends");
        Assert.That(sub.TryRead(out var batch), Is.True);
        Assert.That(batch.Select(p => p.User), Is.EqualTo(new[] { Alice, Bob }));
        Assert.That(batch[0].StatusMessage, Is.EqualTo("second"));
        Assert.That(h.Metrics.Total(PresenceMetrics.ClientBatches), Is.EqualTo(2), "the initial batch and one window");
    }

    [Test]
    public async Task TimeoutChanges_ReachWatchers()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        await using var sub = await h.Engine.SubscribeAsync(Bob);
        sub.TryRead(out _);
        h.Engine.Heartbeat(Alice, "D1");
        h.Advance(Window);
        Assert.That(sub.TryRead(out var online), Is.True);

        h.Advance(TimeSpan.FromSeconds(20)); // the sync timeout
        h.Advance(Window);

        Assert.That(online.Single().State, Is.EqualTo(PresenceState.Online));
        Assert.That(sub.TryRead(out var offline), Is.True);
        Assert.That(offline.Single().State, Is.EqualTo(PresenceState.Offline));
    }

    [Test]
    public async Task UsersWhoShareNoRoom_ReceiveNothing()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        await using var sub = await h.Engine.SubscribeAsync(Eve);
        sub.TryRead(out _);

        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "secret");
        h.Advance(Window);

        Assert.That(sub.TryRead(out _), Is.False);
    }

    [Test]
    public async Task OwnChanges_AreDelivered()
    {
        await using var h = await StartAsync();
        await using var sub = await h.Engine.SubscribeAsync(Alice);
        sub.TryRead(out _);

        h.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, "brb");
        h.Advance(Window);

        Assert.That(sub.TryRead(out var batch), Is.True);
        Assert.That(batch.Single().StatusMessage, Is.EqualTo("brb"));
    }

    [Test]
    public async Task NewlySharedRoom_DeliversEachOthersCurrentPresence()
    {
        await using var h = await StartAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "alice here");
        h.Engine.SetPresence(Bob, "D1", PresenceState.Unavailable, "bob away");
        await using var aliceSub = await h.Engine.SubscribeAsync(Alice);
        await using var bobSub = await h.Engine.SubscribeAsync(Bob);
        aliceSub.TryRead(out _);
        bobSub.TryRead(out _);

        await h.ShareRoomAsync("!new:example.org", Alice, Bob);
        h.Advance(Window);

        Assert.That(aliceSub.TryRead(out var aliceSees), Is.True);
        Assert.That(bobSub.TryRead(out var bobSees), Is.True);
        Assert.That(aliceSees.Single().StatusMessage, Is.EqualTo("bob away"));
        Assert.That(bobSees.Single().StatusMessage, Is.EqualTo("alice here"));
    }

    [Test]
    public async Task SlowReader_ChangesKeepCoalescing_AndTheLatestArrivesAfterItReads()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        await using var sub = await h.Engine.SubscribeAsync(Bob);
        sub.TryRead(out _);

        for (int i = 0; i < 5; i++)
        {
            h.Engine.SetPresence(Alice, "D1", PresenceState.Online, $"status {i}");
            h.Advance(Window);
        }

        Assert.That(sub.TryRead(out var batch), Is.True);
        Assert.That(sub.TryRead(out _), Is.False, "everything held back was folded into the batch the reader took");
        Assert.That(batch.Single().StatusMessage, Is.EqualTo("status 4"), "the latest state, never an old one first");
        Assert.That(((Presence.Internal.Subscription)sub).PendingCount, Is.Zero);
    }

    [Test]
    public async Task ZeroWindow_DeliversAtOnce()
    {
        await using var h = await StartAsync(o => o.ClientBatchWindow = TimeSpan.Zero);
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        await using var sub = await h.Engine.SubscribeAsync(Bob);
        sub.TryRead(out _);

        h.Engine.Heartbeat(Alice, "D1");

        Assert.That(sub.TryRead(out var batch), Is.True);
        Assert.That(batch.Single().User, Is.EqualTo(Alice));
    }

    [Test]
    public async Task ReadAllAsync_YieldsBatchesAsTheyArrive()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        await using var sub = await h.Engine.SubscribeAsync(Bob);
        await using var reader = sub.ReadAllAsync().GetAsyncEnumerator();
        Assert.That(await reader.MoveNextAsync(), Is.True);
        Assert.That(reader.Current, Is.Empty);
        var next = reader.MoveNextAsync();
        Assert.That(next.IsCompleted, Is.False);

        h.Engine.Heartbeat(Alice, "D1");
        h.Advance(Window);

        Assert.That(await next, Is.True);
        Assert.That(reader.Current.Single().User, Is.EqualTo(Alice));
    }

    [Test]
    public async Task Dispose_FreesEverythingAndEndsTheFeed()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        var sub = await h.Engine.SubscribeAsync(Bob);
        sub.TryRead(out _);
        h.Engine.Heartbeat(Alice, "D1");
        int timersWhileOpen = h.Timers.ArmedTimers;

        await sub.DisposeAsync();
        await sub.DisposeAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "after");
        h.Advance(Window);

        Assert.Multiple(async () =>
        {
            Assert.That(await sub.WaitToReadAsync(), Is.False, "the feed has ended");
            Assert.That(sub.TryRead(out _), Is.False);
            Assert.That(((Presence.Internal.Subscription)sub).PendingCount, Is.Zero);
            Assert.That(h.Metrics.Observe(PresenceMetrics.Subscriptions), Is.Zero);
            Assert.That(h.Timers.ArmedTimers, Is.LessThan(timersWhileOpen), "the window timer is released");
        });
    }

    [Test]
    public async Task EngineDispose_EndsOpenSubscriptions()
    {
        var h = await StartAsync();
        var sub = await h.Engine.SubscribeAsync(Alice);

        await h.DisposeAsync();

        Assert.That(await sub.WaitToReadAsync(), Is.False);
    }

    [Test]
    public async Task Subscribe_ForeignUser_IsRejected()
    {
        await using var h = await StartAsync();

        var error = await Assert.ThrowsAsync<PresenceException>(async () => await h.Engine.SubscribeAsync(UserId.Parse("@x:remote.example")));
        Assert.That(error!.ErrorCode, Is.EqualTo(PresenceErrorCodes.Forbidden));
    }
}
