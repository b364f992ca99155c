using NSubstitute;
using NSubstitute.ExceptionExtensions;
using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class PersistenceTests
{
    private static readonly UserId Alice = User("alice");

    [Test]
    public async Task Restart_OnTheSameStore_RecoversRequestedStateStatusAndLastActive()
    {
        var store = new InMemoryPresenceStore();
        var clock = new FakeTimeProvider(EngineHarness.Start);
        var start = clock.GetUtcNow();
        await using (var first = await StartAsync(store: store, clock: clock))
        {
            first.Engine.Heartbeat(Alice, "D1");
            first.SyncFor(TimeSpan.FromSeconds(10), Alice, "D1");
            first.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, "away");
        }

        clock.Advance(TimeSpan.FromMinutes(5));
        await using var second = await StartAsync(store: store, clock: clock);
        var recovered = await second.ReadAsync(Alice);
        second.Engine.Heartbeat(Alice, "D2");
        var reconnected = await second.ReadAsync(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(recovered.State, Is.EqualTo(PresenceState.Offline), "no device is connected after a restart");
            Assert.That(recovered.StatusMessage, Is.EqualTo("away"));
            Assert.That(recovered.LastActive, Is.EqualTo(start));
            Assert.That(reconnected.State, Is.EqualTo(PresenceState.Unavailable), "a new device adopts the requested state");
            Assert.That(reconnected.StatusMessage, Is.EqualTo("away"));
        });
    }

    [TestCase(0)]
    [TestCase(100)]
    public async Task Heartbeats_DoNotWriteToTheStore(int extraHeartbeats)
    {
        var store = new CountingStore();
        var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, new InMemoryMembershipView(), store, new FakeTimeProvider(EngineHarness.Start));
        await engine.StartAsync();

        engine.Heartbeat(Alice, "D1");
        for (int i = 0; i < extraHeartbeats; i++)
        {
            engine.Heartbeat(Alice, "D1");
        }

        await engine.DisposeAsync();

        Assert.That(store.RecordsSaved, Is.EqualTo(1), "coming online is saved once; heartbeats add nothing");
    }

    [Test]
    public async Task SaveFailure_IsRetriedWithBackoff_AndTheLatestStateIsSaved()
    {
        var saved = new TaskCompletionSource<PresenceRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        var store = Substitute.For<IPresenceStore>();
        store.LoadAsync(Arg.Any<IReadOnlyCollection<UserId>>(), Arg.Any<CancellationToken>()).Returns(new ValueTask<IReadOnlyList<PresenceRecord>>([]));
        store.SaveAsync(Arg.Any<IReadOnlyList<PresenceRecord>>(), Arg.Any<CancellationToken>()).Returns(call =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new InvalidOperationException("database down");
            }

            saved.TrySetResult(call.Arg<IReadOnlyList<PresenceRecord>>().Single());
            return ValueTask.CompletedTask;
        });
        var clock = new FakeTimeProvider(EngineHarness.Start);
        using var metrics = new EngineMetrics();
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, new InMemoryMembershipView(), store, clock, meterFactory: metrics.MeterFactory);
        await engine.StartAsync();

        engine.SetPresence(Alice, "D1", PresenceState.Online, "v1");
        engine.SetPresence(Alice, "D1", PresenceState.Online, "v2");
        for (int i = 0; i < 10_000 && !saved.Task.IsCompleted; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }

        var record = await saved.Task;
        Assert.Multiple(() =>
        {
            Assert.That(record.StatusMessage, Is.EqualTo("v2"));
            Assert.That(record.RequestedState, Is.EqualTo(PresenceState.Online));
            Assert.That(metrics.Total(PresenceMetrics.StoreFailures, "save"), Is.GreaterThanOrEqualTo(1));
        });
    }

    [Test]
    public async Task Dispose_FlushesPendingWrites()
    {
        var store = new InMemoryPresenceStore();
        var h = await StartAsync(store: store);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, "saved on shutdown");

        await h.DisposeAsync();

        Assert.That(store.TryGet(Alice, out var record), Is.True);
        Assert.That(record!.StatusMessage, Is.EqualTo("saved on shutdown"));
        Assert.That(record.RequestedState, Is.EqualTo(PresenceState.Unavailable));
    }

    [Test]
    public async Task Start_StoreFails_ThrowsAndCanBeRetried()
    {
        // Startup reads no presence records (they are read per user when needed), only presence lists.
        var lists = Substitute.For<IPresenceListStore>();
        lists.LoadAllAsync(Arg.Any<CancellationToken>()).Returns(
            _ => throw new InvalidOperationException("no database"),
            _ => AsyncEnumerable.Empty<PresenceListEntry>());
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, new InMemoryMembershipView(), new InMemoryPresenceStore(), new FakeTimeProvider(EngineHarness.Start), listStore: lists);

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await engine.StartAsync());
        await engine.StartAsync();

        Assert.DoesNotThrow(() => engine.Heartbeat(Alice, "D1"));
    }

    private sealed class CountingStore : IPresenceStore
    {
        private int _recordsSaved;

        public int RecordsSaved => _recordsSaved;

        public ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken)
        {
            Interlocked.Add(ref _recordsSaved, records.Count);
            return ValueTask.CompletedTask;
        }

        public ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken) => ValueTask.FromResult<IReadOnlyList<PresenceRecord>>([]);
    }

    [Test]
    public async Task ContinuousActivity_LastActiveIsSavedAndRecovered()
    {
        var store = new InMemoryPresenceStore();
        var clock = new FakeTimeProvider(EngineHarness.Start);
        DateTimeOffset lastActivity;
        await using (var first = await StartAsync(store: store, clock: clock))
        {
            first.Engine.Heartbeat(Alice, "D1");
            for (int i = 0; i < 360; i++)
            {
                first.SyncFor(TimeSpan.FromSeconds(30), Alice, "D1");
                first.Engine.ReportActivity(Alice, "D1");
            }

            lastActivity = first.Now;
        }

        await using var second = await StartAsync(store: store, clock: clock);

        Assert.That((await second.ReadAsync(Alice)).LastActive, Is.EqualTo(lastActivity));
    }

    [Test]
    public async Task Load_SanitizesWhatTheStoreReturns()
    {
        var clock = new FakeTimeProvider(EngineHarness.Start);

        // A store (not instant: read in the background) that answers with a record of another server besides the one asked for.
        var store = Substitute.For<IPresenceStore>();
        store.LoadAsync(Arg.Any<IReadOnlyCollection<UserId>>(), Arg.Any<CancellationToken>()).Returns(new ValueTask<IReadOnlyList<PresenceRecord>>(
            [
                new PresenceRecord(Alice, PresenceState.Busy, "from the future", clock.GetUtcNow().AddDays(3)),
                new PresenceRecord(UserId.Parse("@x:elsewhere.example"), PresenceState.Online, null, null),
            ]));

        await using var h = await StartAsync(store: store, clock: clock);
        var loaded = await h.ReadAsync(Alice);
        h.Engine.Heartbeat(Alice, "D1");
        var connected = await h.ReadAsync(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(loaded.LastActive, Is.EqualTo(h.Now), "a last-active time in the future is clamped to now");
            Assert.That(connected.State, Is.EqualTo(PresenceState.Online), "busy is disabled here, so a stored busy becomes online");
            Assert.That(h.Metrics.Total(PresenceMetrics.InputsRejected, "stored_foreign_user"), Is.EqualTo(1));
        });
    }
}
