namespace Presence.Core.Tests.Shell;

/// <summary>Subscriptions other servers hold to our users are written through and restored when the engine starts again.</summary>
[TestFixture]
[CancelAfter(30_000)]
public sealed class PeerSubscriptionPersistenceTests
{
    private static readonly ServerName Peer = ServerName.Parse("peer.test");
    private static readonly UserId Alice = EngineHarness.User("alice");
    private static readonly UserId Bob = UserId.Parse("@bob:peer.test");

    [Test]
    public async Task ReceiveAsync_PollThenUnpoll_SavedAndRemovedBeforeReturn()
    {
        var store = new InMemoryPeerSubscriptionStore();
        var (engine, clock) = await StartAsync(store, new ReminderTransport());
        await using var _ = engine;
        engine.Heartbeat(Alice, "phone"); // a poll for a user the engine has never heard of is refused before anything is stored

        await engine.ReceiveAsync(Peer, new PresenceMessage(poll: [Alice]));
        var saved = await LoadAsync(store, clock.GetUtcNow());

        Assert.That(saved, Is.EqualTo(new[] { (Peer, Alice, clock.GetUtcNow() + PresenceFederationOptions.DefaultDefaultPromiseLifetime) }));

        await engine.ReceiveAsync(Peer, new PresenceMessage(unpoll: [Alice]));

        Assert.That(store.Count, Is.Zero);
    }

    [Test]
    public async Task StartAsync_StoredSubscription_PeerIsRemindedOfTheUser()
    {
        var store = new InMemoryPeerSubscriptionStore();
        await store.SaveAsync([new PeerSubscription(Peer, Alice, EngineHarness.Start + TimeSpan.FromHours(2))], CancellationToken.None);
        var transport = new ReminderTransport();
        var (engine, clock) = await StartAsync(store, transport);
        await using var _ = engine;
        engine.SetPresence(Alice, "phone", PresenceState.Online, "here");

        // Only a peer holding a subscription is watched: its short watchdog fires and the reminder carries Alice.
        clock.Advance(PresenceFederationOptions.DefaultShortWatchdog + TimeSpan.FromSeconds(1));
        var reminder = await transport.Reminder.Task.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.That(reminder.Push.Select(static p => p.User), Does.Contain(Alice));
    }

    [Test]
    public async Task StartAsync_ExpiredSubscription_NotRestoredAndDeleted()
    {
        var store = new InMemoryPeerSubscriptionStore();
        await store.SaveAsync([new PeerSubscription(Peer, Alice, EngineHarness.Start)], CancellationToken.None);
        var (engine, _) = await StartAsync(store, new ReminderTransport());
        await using var __ = engine;

        Assert.That(store.Count, Is.Zero);
    }

    [Test]
    public async Task ReceiveAsync_StoreFails_ThrowsAndTheNextWriteCarriesTheChange()
    {
        var inner = new InMemoryPeerSubscriptionStore();
        var store = new FlakyStore(inner) { Fail = true };
        var (engine, clock) = await StartAsync(store, new ReminderTransport());
        await using var _ = engine;
        engine.Heartbeat(Alice, "phone"); // a poll for a user the engine has never heard of is refused before anything is stored

        Assert.That(async () => await engine.ReceiveAsync(Peer, new PresenceMessage(poll: [Alice])), Throws.InstanceOf<IOException>());
        Assert.That(inner.Count, Is.Zero);

        store.Fail = false;
        await engine.ReceiveAsync(Peer, new PresenceMessage(poll: [Alice])); // the peer retries its transaction

        Assert.That((await LoadAsync(inner, clock.GetUtcNow())).Select(static s => s.Item2), Is.EqualTo(new[] { Alice }));
    }

    private static async Task<(IPresenceEngine Engine, FakeTimeProvider Clock)> StartAsync(IPeerSubscriptionStore store, IPresenceTransport transport)
    {
        var clock = new FakeTimeProvider(EngineHarness.Start);
        var rooms = new InMemoryMembershipView();
        rooms.Join("!r:example.org", Alice);
        rooms.Join("!r:example.org", Bob);
        var engine = PresenceEngine.Create(new PresenceOptions { ServerName = EngineHarness.Server }, rooms, timeProvider: clock, transport: transport, peerSubscriptionStore: store);
        await engine.StartAsync();
        return (engine, clock);
    }

    private static async Task<List<(ServerName, UserId, DateTimeOffset)>> LoadAsync(InMemoryPeerSubscriptionStore store, DateTimeOffset now)
    {
        var found = new List<(ServerName, UserId, DateTimeOffset)>();
        await foreach (var subscription in store.LoadAllAsync(now, CancellationToken.None))
        {
            found.Add((subscription.Peer, subscription.User, subscription.ExpiresAt));
        }

        return found;
    }

    private sealed class ReminderTransport : IPresenceTransport
    {
        public TaskCompletionSource<PresenceMessage> Reminder { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
        {
            if (destination == Peer && message.IsReminder)
            {
                Reminder.TrySetResult(message);
            }

            return ValueTask.CompletedTask;
        }
    }

    private sealed class FlakyStore(IPeerSubscriptionStore inner) : IPeerSubscriptionStore
    {
        public bool Fail { get; set; }

        public ValueTask SaveAsync(IReadOnlyList<PeerSubscription> subscriptions, CancellationToken cancellationToken)
            => Fail ? ValueTask.FromException(new IOException("database down")) : inner.SaveAsync(subscriptions, cancellationToken);

        public ValueTask RemoveAsync(ServerName peer, IReadOnlyCollection<UserId> users, CancellationToken cancellationToken)
            => Fail ? ValueTask.FromException(new IOException("database down")) : inner.RemoveAsync(peer, users, cancellationToken);

        public IAsyncEnumerable<PeerSubscription> LoadAllAsync(DateTimeOffset now, CancellationToken cancellationToken) => inner.LoadAllAsync(now, cancellationToken);
    }
}
