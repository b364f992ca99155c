using Presence.Internal;
using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Shell;

/// <summary>
/// Second edition: users nobody needs leave memory, what matters of them stays in the store and comes back on demand,
/// startup reads no presence records, a peer's remote-user count is exact, and host code never holds up a device signal.
/// </summary>
[CancelAfter(20_000)]
public sealed class BoundedMemoryTests
{
    private static readonly UserId Alice = User("alice");
    private static readonly UserId Bob = User("bob");
    private static readonly ServerName Remote = ServerName.Parse("remote.example");

    private static DefaultPresenceEngine Inner(EngineHarness h) => (DefaultPresenceEngine)h.Engine;

    /// <summary>An engine (EvictAfter 10 min) where alice set a status, disconnected and her record was saved.</summary>
    private static async Task<EngineHarness> AliceWentQuietAsync(string status)
    {
        var store = new SignallingStore();
        var h = await StartAsync(o => o.EvictAfter = TimeSpan.FromMinutes(10), store: store);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, status);
        h.Engine.Disconnect(Alice, "D1");
        await store.Signals.WhenSaved(Alice);
        return h;
    }

    [Test]
    public async Task OfflineUserNobodyNeeds_LeavesMemoryAfterEvictAfter_AndIsReadBackWithItsStatus()
    {
        await using var h = await AliceWentQuietAsync("back at 3");

        h.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1));
        long heldBefore = Inner(h).UsersHeld;
        h.Advance(TimeSpan.FromSeconds(2));
        long heldAfter = Inner(h).UsersHeld;
        var read = await h.ReadAsync(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(heldBefore, Is.EqualTo(1), "held until the eviction time has passed");
            Assert.That(heldAfter, Is.Zero, "offline, no devices, nothing to save, nobody needs her: gone from memory");
            Assert.That(read.State, Is.EqualTo(PresenceState.Offline));
            Assert.That(read.StatusMessage, Is.EqualTo("back at 3"), "her record stayed in the store and is read back");
            Assert.That(Inner(h).UsersHeld, Is.EqualTo(1), "a read brings her back");
        });
    }

    [Test]
    public async Task UserReadBackForARead_LeavesMemoryAgainWhenNobodyNeedsThem()
    {
        await using var h = await AliceWentQuietAsync("away");
        h.Advance(TimeSpan.FromMinutes(11));
        long afterFirstEviction = Inner(h).UsersHeld;

        await h.Engine.GetPresenceAsync(Bob, Alice); // reads her record back
        long afterRead = Inner(h).UsersHeld;
        h.Advance(TimeSpan.FromMinutes(11));

        Assert.Multiple(() =>
        {
            Assert.That(afterFirstEviction, Is.Zero);
            Assert.That(afterRead, Is.EqualTo(1));
            Assert.That(Inner(h).UsersHeld, Is.Zero, "read back, then left alone: she leaves memory again");
        });
    }

    [Test]
    public async Task WideningVisibilityOfAUserNotInMemory_TakesEffect()
    {
        var store = new InMemoryPresenceStore();
        await store.SaveAsync([new PresenceRecord(Alice, PresenceState.Online, null, null, PresenceVisibility.Nobody)], CancellationToken.None);
        await using var h = await StartAsync(store: store);
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        bool hiddenBefore = !(await h.Engine.GetPresenceAsync(Bob, Alice)).IsAllowed;

        h.Engine.SetVisibility(Alice, PresenceVisibility.RoomMembers);
        bool visibleAfter = (await h.Engine.GetPresenceAsync(Bob, Alice)).IsAllowed;

        Assert.Multiple(() =>
        {
            Assert.That(hiddenBefore, Is.True, "her stored choice was nobody");
            Assert.That(visibleAfter, Is.True, "the new choice is not overridden by the stored one");
        });
    }

    [Test]
    public async Task UserWithASubscription_StaysInMemory()
    {
        await using var h = await StartAsync(o => o.EvictAfter = TimeSpan.FromMinutes(1));
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, null);
        h.Engine.Disconnect(Alice, "D1");
        await using var feed = await h.Engine.SubscribeAsync(Alice);

        h.Advance(TimeSpan.FromMinutes(5));

        Assert.That(Inner(h).UsersHeld, Is.EqualTo(1));
    }

    [Test]
    public async Task ConnectedUser_IsNeverEvicted()
    {
        await using var h = await StartAsync(o => o.EvictAfter = TimeSpan.FromMinutes(1));
        h.Engine.Heartbeat(Alice, "D1");

        h.SyncFor(TimeSpan.FromMinutes(30), Alice, "D1");

        Assert.That(Inner(h).UsersHeld, Is.EqualTo(1));
        Assert.That((await h.ReadAsync(Alice)).State, Is.Not.EqualTo(PresenceState.Offline));
    }

    [Test]
    public async Task Startup_ReadsNoPresenceRecords_AndAUserIsReadWhenFirstNeeded()
    {
        var store = new SlowStore();
        await store.SaveAsync([new PresenceRecord(Alice, PresenceState.Unavailable, "lunch", null)], CancellationToken.None);
        store.Release();
        await using var h = await StartAsync(store: store);

        int loadsAtStart = store.Loads;
        var read = await h.ReadAsync(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(loadsAtStart, Is.Zero, "startup reads no presence records");
            Assert.That(store.Loads, Is.EqualTo(1), "the first read of alice reads her record");
            Assert.That(read.StatusMessage, Is.EqualTo("lunch"));
        });
    }

    [Test]
    public async Task UserReadBackFromASlowStore_HeartbeatDoesNotWait_AndAStoredOfflineIsNeverPublishedAsOnline()
    {
        var store = new SlowStore();
        store.Release();
        await using var h = await StartAsync(o => { o.ClientBatchWindow = TimeSpan.Zero; o.EvictAfter = TimeSpan.FromMinutes(1); }, store: store);
        await h.ShareRoomAsync("!r:example.org", Alice, Bob);
        await using var bobFeed = await h.Engine.SubscribeAsync(Bob);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Offline, "invisible");
        h.Engine.Disconnect(Alice, "D1");
        await store.Signals.WhenSaved(Alice);
        h.Advance(TimeSpan.FromMinutes(2)); // alice leaves memory; her record stays in the store
        long heldAfterEviction = Inner(h).UsersHeld;
        while (bobFeed.TryRead(out _))
        {
        }

        store.Hold();
        h.Engine.Heartbeat(Alice, "D2"); // a new sync: returns although the store has not answered
        bool publishedWhileLoading = bobFeed.TryRead(out _);
        store.Release();
        var read = await h.ReadAsync(Alice); // waits for her record
        var seen = new List<PresenceSnapshot>();
        while (bobFeed.TryRead(out var batch))
        {
            seen.AddRange(batch);
        }

        Assert.Multiple(() =>
        {
            Assert.That(heldAfterEviction, Is.Zero, "alice left memory (bob, who never synced, holds nothing)");
            Assert.That(publishedWhileLoading, Is.False, "nothing is published before her record is merged");
            Assert.That(read.State, Is.EqualTo(PresenceState.Offline), "she asked to appear offline: a new device starts so");
            Assert.That(read.StatusMessage, Is.EqualTo("invisible"));
            Assert.That(seen.Where(p => p.User == Alice).Select(p => p.State), Has.None.EqualTo(PresenceState.Online));
        });
    }

    [Test]
    public async Task SlowMembershipView_HeartbeatNeverWaitsForIt()
    {
        using var view = new BlockingView(block: Alice);
        var clock = new FakeTimeProvider(EngineHarness.Start);
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server, ClientBatchWindow = TimeSpan.Zero }, view, timeProvider: clock);
        await engine.StartAsync();
        view.Inner.Join("!r:example.org", Alice);
        view.Inner.Join("!r:example.org", Bob);
        await using var bobFeed = await engine.SubscribeAsync(Bob);
        bobFeed.TryRead(out _);

        engine.Heartbeat(Alice, "D1"); // alice's rooms are not cached: the lookup blocks, but not this thread
        engine.ReportActivity(Alice, "D1");
        bool calledOnThisThread = view.BlockedThreads.Contains(Environment.CurrentManagedThreadId);
        view.Release();
        bool delivered = await bobFeed.WaitToReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        bobFeed.TryRead(out var batch);

        Assert.Multiple(() =>
        {
            Assert.That(calledOnThisThread, Is.False, "the membership view is never called on the caller's thread");
            Assert.That(delivered, Is.True, "once the view answers, bob receives alice's presence");
            Assert.That(batch!.Select(p => p.User), Does.Contain(Alice));
        });
    }

    [Test]
    public async Task RemoteUsers_AreCountedExactly_SoTheCapLimitsWhatIsHeldNow()
    {
        await using var h = await StartAsync(o =>
        {
            o.Federation.MaxRemoteUsersPerPeer = 2;
            o.Federation.RemoteStaleAfter = TimeSpan.FromMinutes(30);
        });
        var engine = Inner(h);
        PresenceSnapshot Online(string name) => new(UserId.Parse($"@{name}:remote.example"), PresenceState.Online, null, h.Now, true, DeviceKinds.Standard);

        await h.Engine.ReceiveAsync(Remote, new PresenceMessage(push: [Online("r1"), Online("r2")]));
        await h.Engine.ReceiveAsync(Remote, new PresenceMessage(push: [Online("r3")]));
        int heldAtCap = engine.RemoteUsersHeld(Remote);
        long droppedAtCap = h.Metrics.Total(PresenceMetrics.InboundDropped, "remote_user_cap");

        h.Advance(TimeSpan.FromMinutes(31)); // r1 and r2 go stale, become unknown and leave memory
        int heldAfterExpiry = engine.RemoteUsersHeld(Remote);
        await h.Engine.ReceiveAsync(Remote, new PresenceMessage(push: [Online("r3")]));
        var r3 = (await h.Engine.GetPresenceAsync(UserId.Parse("@r3:remote.example"), UserId.Parse("@r3:remote.example"))).Presence;

        Assert.Multiple(() =>
        {
            Assert.That(heldAtCap, Is.EqualTo(2));
            Assert.That(droppedAtCap, Is.EqualTo(1), "a third user beyond the cap is dropped");
            Assert.That(heldAfterExpiry, Is.Zero, "users that went stale no longer count");
            Assert.That(r3.State, Is.EqualTo(PresenceState.Online), "so a new user of that peer is accepted again");
            Assert.That(engine.RemoteUsersHeld(Remote), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task WatchedRemoteUser_StaysInMemoryWhileWatched()
    {
        await using var h = await StartAsync(o => o.Federation.RemoteStaleAfter = TimeSpan.FromMinutes(30));
        var remoteUser = UserId.Parse("@r1:remote.example");
        Inner(h).Watch(remoteUser);
        await h.Engine.ReceiveAsync(Remote, new PresenceMessage(push: [new PresenceSnapshot(remoteUser, PresenceState.Online, null, h.Now, true, DeviceKinds.Standard)]));

        h.Advance(TimeSpan.FromHours(2));

        Assert.That(Inner(h).RemoteUsersHeld(Remote), Is.EqualTo(1), "someone here still watches it: unknown, but held");
    }

    /// <summary>Completes a task per user when the write-behind has saved a record of theirs (no polling, no sleeps).</summary>
    private sealed class SaveSignals
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<UserId, TaskCompletionSource> _saved = new();

        /// <summary>Completes once a record of <paramref name="user"/> is saved; fails the test after 10 s of real time.</summary>
        public Task WhenSaved(UserId user) => Of(user).Task.WaitAsync(TimeSpan.FromSeconds(10));

        public void Saved(IReadOnlyList<PresenceRecord> records)
        {
            foreach (var record in records)
            {
                Of(record.User).TrySetResult();
            }
        }

        private TaskCompletionSource Of(UserId user) => _saved.GetOrAdd(user, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    /// <summary>The in-memory store (answering reads at once, as the engine's default does) that signals each save.</summary>
    private sealed class SignallingStore : IPresenceStore, IInstantPresenceStore
    {
        private readonly InMemoryPresenceStore _inner = new();

        public SaveSignals Signals { get; } = new();

        public PresenceRecord? Find(UserId user) => ((IInstantPresenceStore)_inner).Find(user);

        public async ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken)
        {
            await _inner.SaveAsync(records, cancellationToken);
            Signals.Saved(records);
        }

        public ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken) => _inner.LoadAsync(users, cancellationToken);
    }

    /// <summary>A store that answers reads only once released (a database far away); not instant, so reads go to the background.</summary>
    private sealed class SlowStore : IPresenceStore
    {
        private readonly InMemoryPresenceStore _inner = new();
        private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _loads;

        public int Loads => Volatile.Read(ref _loads);

        public void Release() => _released.TrySetResult();

        public void Hold() => Volatile.Write(ref _released, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public SaveSignals Signals { get; } = new();

        public async ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken)
        {
            await _inner.SaveAsync(records, cancellationToken);
            Signals.Saved(records);
        }

        public async ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _loads);
            await Volatile.Read(ref _released).Task.WaitAsync(cancellationToken);
            return await _inner.LoadAsync(users, cancellationToken);
        }
    }

    /// <summary>A host view that blocks the calling thread (a synchronous database call) when asked about one user.</summary>
    private sealed class BlockingView(UserId block) : IMembershipView, IDisposable
    {
        private readonly ManualResetEventSlim _released = new();

        public void Dispose() => _released.Dispose();

        public InMemoryMembershipView Inner { get; } = new();

        public System.Collections.Concurrent.ConcurrentBag<int> BlockedThreads { get; } = [];

        public void Release() => _released.Set();

        public ValueTask<IReadOnlyCollection<string>> GetRoomsOfUserAsync(UserId user, CancellationToken cancellationToken)
        {
            if (user == block)
            {
                BlockedThreads.Add(Environment.CurrentManagedThreadId);
                _released.Wait(TimeSpan.FromSeconds(10), cancellationToken);
            }

            return Inner.GetRoomsOfUserAsync(user, cancellationToken);
        }

        public ValueTask<IReadOnlyCollection<UserId>> GetMembersOfRoomAsync(string roomId, CancellationToken cancellationToken)
            => Inner.GetMembersOfRoomAsync(roomId, cancellationToken);
    }
}
