using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Presence.Core.PostgreSql.Tests;

/// <summary>Engines on the PostgreSQL store: a restart recovers what users chose, a crash loses at most the flush bound, two engines start together.</summary>
[TestFixture]
[CancelAfter(120_000)]
public sealed class EngineOnPostgreSqlTests
{
    private static readonly ServerName Server = ServerName.Parse("example.org");
    private static readonly ServerName Peer = ServerName.Parse("peer.test");
    private static readonly UserId Alice = UserId.Parse("@alice:example.org");
    private static readonly UserId Bob = UserId.Parse("@bob:peer.test");
    private static readonly UserId Carol = UserId.Parse("@carol:example.org");
    private static readonly UserId Dave = UserId.Parse("@dave:example.org");
    private static readonly UserId Eve = UserId.Parse("@eve:example.org");

    private string _schema = null!;

    [SetUp]
    public void SetUp()
    {
        PostgresServer.ConnectionString();
        _schema = PostgresServer.NewSchema();
    }

    [TearDown]
    public async Task TearDown() => await PostgresServer.DropSchemaAsync(_schema);

    [Test]
    public async Task Restart_SameDatabase_RecoversListsPermissionsVisibilitySubscriptionsAndStates()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var rooms = new InMemoryMembershipView();
        rooms.Join("!r:example.org", Alice);
        rooms.Join("!r:example.org", Bob);
        rooms.Join("!r:example.org", Carol);
        rooms.Join("!r:example.org", Eve);

        await using (var first = await StartAsync(clock, rooms))
        {
            first.Engine.SetPresence(Alice, "phone", PresenceState.Unavailable, "lunch");
            first.Engine.SetVisibility(Eve, PresenceVisibility.Nobody);
            await first.Engine.AddToPresenceListAsync(Carol, Alice);
            await first.Engine.AnswerPresenceRequestAsync(Alice, Carol, allow: true);
            await first.Engine.AddToPresenceListAsync(Dave, Alice);
            await first.Engine.AnswerPresenceRequestAsync(Alice, Dave, allow: false);
            await first.Engine.ReceiveAsync(Peer, new PresenceMessage(poll: [Alice]));
        }

        clock.Advance(TimeSpan.FromMinutes(1));
        await using var second = await StartAsync(clock, rooms);
        var alice = await second.Engine.GetPresenceAsync(Carol, Alice);
        var eve = await second.Engine.GetPresenceAsync(Carol, Eve);
        var carolsList = second.Engine.GetPresenceList(Carol);
        var davesList = second.Engine.GetPresenceList(Dave);
        var subscriptions = new List<(ServerName, UserId)>();
        await foreach (var subscription in second.Store.PeerSubscriptions.LoadAllAsync(clock.GetUtcNow(), CancellationToken.None))
        {
            subscriptions.Add((subscription.Peer, subscription.User));
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(alice.IsAllowed, Is.True);
            Assert.That(alice.Presence.StatusMessage, Is.EqualTo("lunch"), "status message");
            Assert.That(eve.IsAllowed, Is.False, "Eve chose to be seen by nobody");
            Assert.That(carolsList.Select(static i => (i.Entry.Observed, i.Entry.State)), Is.EqualTo(new[] { (Alice, PresenceListState.Allowed) }));
            Assert.That(davesList.Select(static i => (i.Entry.Observed, i.Entry.State)), Is.EqualTo(new[] { (Alice, PresenceListState.Denied) }));
            Assert.That(subscriptions, Is.EqualTo(new[] { (Peer, Alice) }), "the peer's subscription and its promise");
        }

        // Alice's explicit state comes back with her first device.
        second.Engine.Heartbeat(Alice, "laptop");
        var stored = await second.Store.LoadAsync([Alice], CancellationToken.None);
        Assert.That(stored.Single().RequestedState, Is.EqualTo(PresenceState.Unavailable));
    }

    [Test]
    public async Task StartAsync_TwoEnginesOnAFreshDatabaseAtOnce_MigrateOnceAndBothWork()
    {
        var clock = new FakeTimeProvider();
        var rooms = new InMemoryMembershipView();
        var starting = await Task.WhenAll(Task.Run(() => StartAsync(clock, rooms)), Task.Run(() => StartAsync(clock, rooms)));
        await using var one = starting[0];
        await using var two = starting[1];

        await one.Engine.AddToPresenceListAsync(Alice, Carol);
        await two.Engine.AddToPresenceListAsync(Carol, Alice);
        var both = new List<(UserId, UserId)>();
        await foreach (var entry in one.Store.Lists.LoadAllAsync(CancellationToken.None))
        {
            both.Add((entry.Observer, entry.Observed));
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await PostgresServer.ScalarAsync<long>($"SELECT count(*) FROM \"{_schema}\".schema_version"), Is.EqualTo(2), "each version applied once");
            Assert.That(one.Store.GetStatus().SchemaVersion, Is.EqualTo(2));
            Assert.That(two.Store.GetStatus().SchemaVersion, Is.EqualTo(2));
            Assert.That(both, Is.EquivalentTo(new[] { (Alice, Carol), (Carol, Alice) }));
        }
    }

    [Test]
    public async Task Crash_WriterKilledWithoutDispose_ListsIntactStatesAtMostOneFlushBoundOld()
    {
        string writer = Path.Combine(PostgresServer.RepositoryRoot(), "tests", "Presence.Core.PostgreSql.CrashWriter", "bin",
            new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "Presence.Core.PostgreSql.CrashWriter.dll");
        Assert.That(File.Exists(writer), Is.True, "the crash writer is built with the tests: " + writer);
        var start = new ProcessStartInfo("dotnet", [writer, PostgresServer.ConnectionString(), _schema]) { RedirectStandardOutput = true, RedirectStandardError = true };
        var sets = new Dictionary<long, (string User, long At)>();
        bool listSaved = false;
        using (var child = Process.Start(start)!)
        {
            var started = TimeProvider.System.GetTimestamp();
            try
            {
                // Let it write for about two flush bounds, then kill it mid-stream: no dispose, no drain.
                while (await child.StandardOutput.ReadLineAsync() is { } line)
                {
                    listSaved |= line == "list";
                    if (Parse(line) is { } set)
                    {
                        sets[set.N] = (set.User, set.At);
                        if (TimeProvider.System.GetElapsedTime(started) > TimeSpan.FromSeconds(4) && sets.Count > 200)
                        {
                            break;
                        }
                    }
                }
            }
            finally
            {
                child.Kill(entireProcessTree: true);
            }

            // Lines printed before the kill landed still count: those sets happened before the crash.
            while (await child.StandardOutput.ReadLineAsync() is { } line)
            {
                if (Parse(line) is { } set)
                {
                    sets[set.N] = (set.User, set.At);
                }
            }

            await child.WaitForExitAsync();
            Assert.That(sets, Is.Not.Empty, "the writer never wrote: " + await child.StandardError.ReadToEndAsync());
        }

        await using var dataSource = PostgresServer.NewDataSource();
        await using var store = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { Schema = _schema });
        var users = sets.Values.Select(static s => UserId.Parse(s.User)).Distinct().ToList();
        var stored = await store.LoadAsync(users, CancellationToken.None);
        var lists = new List<PresenceListEntry>();
        await foreach (var entry in store.Lists.LoadAllAsync(CancellationToken.None))
        {
            lists.Add(entry);
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(listSaved, Is.True);
            Assert.That(lists.Select(static e => (e.Observer.Value, e.Observed.Value)), Is.EqualTo(new[] { ("@observer:crash.test", "@u0:crash.test") }), "the list, written through, survives");
            Assert.That(stored, Has.Count.EqualTo(users.Count), "every user that was set has a stored state");
            foreach (var record in stored)
            {
                long n = long.Parse(record.StatusMessage!, CultureInfo.InvariantCulture);
                long lastSetAt = sets.Values.Where(s => s.User == record.User.Value).Max(static s => s.At);
                long storedSetAt = sets[n].At;
                TestContext.Out.WriteLine($"{record.User}: stored state {n} is {lastSetAt - storedSetAt} ms older than its last; {sets.Count} sets in all");
                Assert.That(lastSetAt - storedSetAt, Is.LessThanOrEqualTo((long)PostgreSqlPresenceStoreOptions.DefaultFlushBound.TotalMilliseconds),
                    $"{record.User}: stored state {n} was set {lastSetAt - storedSetAt} ms before its last state");
            }
        }
    }

    [Test]
    public async Task ServerStoppedAndStarted_ChangesMadeDuringTheOutageAreSaved()
    {
        // The engine on the real clock: its first retry comes a second after a failure (a real wait on a signal, no sleep).
        await using var dataSource = PostgresServer.NewDataSource();
        await using var inner = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { Schema = _schema, RetryDelay = TimeSpan.FromMilliseconds(50), MaxRetryDelay = TimeSpan.FromMilliseconds(200) });
        var store = new SignallingStore(inner);
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, new InMemoryMembershipView(), store, listStore: inner.Lists, peerSubscriptionStore: inner.PeerSubscriptions);
        await engine.StartAsync();
        var saved = store.WhenSaved(Alice, "before");
        engine.SetPresence(Alice, "phone", PresenceState.Online, "before");
        await saved;

        var failed = store.WhenFailed();
        var aliceSaved = store.WhenSaved(Alice, "during");
        var carolSaved = store.WhenSaved(Carol, "during");
        await PostgresServer.PauseAsync();
        try
        {
            engine.SetPresence(Alice, "phone", PresenceState.Unavailable, "during");
            engine.SetPresence(Carol, "laptop", PresenceState.Online, "during");
            await failed;
        }
        finally
        {
            await PostgresServer.ResumeAsync();
        }

        await Task.WhenAll(aliceSaved, carolSaved);
        await using var reopened = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { Schema = _schema });
        var stored = (await reopened.LoadAsync([Alice, Carol], CancellationToken.None)).ToDictionary(static r => r.User);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(stored[Alice].StatusMessage, Is.EqualTo("during"));
            Assert.That(stored[Alice].RequestedState, Is.EqualTo(PresenceState.Unavailable));
            Assert.That(stored[Carol].StatusMessage, Is.EqualTo("during"));
            Assert.That(inner.GetStatus().IsHealthy, Is.True);
        }
    }

    private static (long N, string User, long At)? Parse(string line)
    {
        var parts = line.Split(' ');
        return parts is ["set", var n, var user, var at] ? (long.Parse(n, CultureInfo.InvariantCulture), user, long.Parse(at, CultureInfo.InvariantCulture)) : null;
    }

    private async Task<Running> StartAsync(FakeTimeProvider clock, InMemoryMembershipView rooms)
    {
        var dataSource = PostgresServer.NewDataSource();
        var store = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { Schema = _schema });
        var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, rooms, store, clock, listStore: store.Lists, peerSubscriptionStore: store.PeerSubscriptions);
        await engine.StartAsync();
        return new Running(engine, store, dataSource);
    }

    private sealed record Running(IPresenceEngine Engine, PostgreSqlPresenceStore Store, NpgsqlDataSource DataSource) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Engine.DisposeAsync(); // drains the write-behind into the store
            await Store.DisposeAsync();
            await DataSource.DisposeAsync();
        }
    }

    /// <summary>Signals when a user's record with a given status has been saved (durably), and when a save failed.</summary>
    private sealed class SignallingStore(IPresenceStore inner) : IPresenceStore
    {
        private readonly Lock _gate = new();
        private readonly List<(UserId User, string Status, TaskCompletionSource Done)> _saved = [];
        private TaskCompletionSource? _failed;

        public Task WhenSaved(UserId user, string status)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                _saved.Add((user, status, done));
            }

            return done.Task;
        }

        public Task WhenFailed()
        {
            lock (_gate)
            {
                return (_failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }

        public async ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken)
        {
            try
            {
                await inner.SaveAsync(records, cancellationToken);
            }
            catch (PostgreSqlPresenceStoreException)
            {
                lock (_gate)
                {
                    _failed?.TrySetResult();
                }

                throw;
            }

            lock (_gate)
            {
                foreach (var (user, status, done) in _saved)
                {
                    if (records.Any(r => r.User == user && r.StatusMessage == status))
                    {
                        done.TrySetResult();
                    }
                }
            }
        }

        public ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken) => inner.LoadAsync(users, cancellationToken);
    }
}
