using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Npgsql;

namespace Presence.Core.PostgreSql.Tests;

/// <summary>The store's own behaviour: failures, bounds, status, migrations, options, registration.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class PostgreSqlPresenceStoreTests
{
    /// <summary>Nothing listens on port 1: every connection is refused at once (a database that is down).</summary>
    private const string Unreachable = "Host=127.0.0.1;Port=1;Username=postgres;Timeout=2";

    private static UserId User(int i) => UserId.Parse($"@u{i}:example.org");

    private static PresenceRecord Record(int i, string? status = null) => new(User(i), PresenceState.Online, status ?? $"s{i}", null);

    [Test]
    public async Task SaveAsync_DatabaseDown_FailsTransientKeepsRowsAndReportsUnhealthy()
    {
        await using var dataSource = NpgsqlDataSource.Create(Unreachable);
        await using var store = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { RetryDelay = TimeSpan.FromMinutes(1), MaxRetryDelay = TimeSpan.FromMinutes(1) });

        var failure = await Assert.ThrowsAsync<PostgreSqlPresenceStoreException>(async () => await store.SaveAsync([Record(1), Record(2)], CancellationToken.None));
        var status = store.GetStatus();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(failure!.IsTransient, Is.True);
            Assert.That(failure.Message, Does.StartWith("PostgreSQL presence store: writing presence records failed"));
            Assert.That(status.IsHealthy, Is.False);
            Assert.That(status.ConsecutiveFailures, Is.GreaterThanOrEqualTo(1));
            Assert.That(status.LastFailureAt, Is.Not.Null);
            Assert.That(status.PendingRows, Is.EqualTo(2), "kept for the next attempt");
        }
    }

    [Test]
    public async Task SaveAsync_PastMaxPendingRows_RefusesNewUsersCountsAndKeepsTheNewestOfHeldOnes()
    {
        await using var dataSource = NpgsqlDataSource.Create(Unreachable);
        using var meters = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(null, PostgreSqlPresenceMetrics.MeterName, PostgreSqlPresenceMetrics.RowsDropped);
        await using var store = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { BatchSize = 3, MaxPendingRows = 3, RetryDelay = TimeSpan.FromMinutes(1), MaxRetryDelay = TimeSpan.FromMinutes(1) });
        await Assert.ThrowsAsync<PostgreSqlPresenceStoreException>(async () => await store.SaveAsync([Record(1), Record(2), Record(3)], CancellationToken.None));

        var refused = await Assert.ThrowsAsync<PostgreSqlPresenceStoreException>(async () => await store.SaveAsync([Record(1, "newer"), Record(4), Record(5)], CancellationToken.None));
        var status = store.GetStatus();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(refused!.Message, Does.Contain("2 of 3 presence records were refused"));
            Assert.That(status.PendingRows, Is.EqualTo(3));
            Assert.That(status.DroppedRows, Is.EqualTo(2));
            Assert.That(meters.GetMeasurementSnapshot().Sum(static m => m.Value), Is.EqualTo(2));
        }
    }

    [Test]
    public async Task ListSave_DatabaseDown_ThrowsNamingTheStore()
    {
        await using var dataSource = NpgsqlDataSource.Create(Unreachable);
        await using var store = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { RetryDelay = TimeSpan.FromMilliseconds(1), MaxRetryDelay = TimeSpan.FromMilliseconds(1) });

        var failure = await Assert.ThrowsAsync<PostgreSqlPresenceStoreException>(async () => await store.Lists.SaveAsync(new PresenceListEntry(User(1), User(2), PresenceListState.Pending), CancellationToken.None));

        Assert.That(failure!.Message, Does.StartWith("PostgreSQL presence store:"));
    }

    [Test]
    public void Constructor_BadOptions_NamesEachOption()
    {
        using var dataSource = NpgsqlDataSource.Create(Unreachable);
        var options = new PostgreSqlPresenceStoreOptions { Schema = "bad-name; drop", BatchSize = 0, FlushBound = TimeSpan.Zero, RetryDelay = TimeSpan.FromSeconds(10), MaxRetryDelay = TimeSpan.FromSeconds(1) };

        var error = Assert.Throws<ArgumentException>(() => new PostgreSqlPresenceStore(dataSource, options));

        Assert.That(error!.Message, Does.Contain("Schema").And.Contain("BatchSize").And.Contain("FlushBound").And.Contain("MaxRetryDelay"));
    }

    [Test]
    public async Task UsePostgreSql_OneStoreServesAllThreeContracts()
    {
        var services = new ServiceCollection();
        services.AddPresence(o => o.ServerName = ServerName.Parse("example.org")).UsePostgreSql(Unreachable, o => o.Schema = "custom");
        await using var provider = services.BuildServiceProvider();

        var store = provider.GetRequiredService<PostgreSqlPresenceStore>();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(provider.GetRequiredService<IPresenceStore>(), Is.SameAs(store));
            Assert.That(provider.GetRequiredService<IPresenceListStore>(), Is.SameAs(store.Lists));
            Assert.That(provider.GetRequiredService<IPeerSubscriptionStore>(), Is.SameAs(store.PeerSubscriptions));
        }
    }

    [Test]
    public void UsePostgreSql_BadOptions_ThrowsAtRegistration()
    {
        var builder = new ServiceCollection().AddPresence();

        Assert.That(() => builder.UsePostgreSql(Unreachable, o => o.MaxPendingRows = 1), Throws.ArgumentException.With.Message.Contains("MaxPendingRows"));
    }

    [Test]
    public async Task MigrateAsync_FromVersion1_AddsVisibilityAndKeepsRows()
    {
        string schema = PostgresServer.NewSchema();
        try
        {
            await using (var old = new PostgreSqlPresenceStore(PostgresServer.NewDataSource(), ownsDataSource: true, new PostgreSqlPresenceStoreOptions { Schema = schema }, null, null, null))
            {
                await old.MigrateCoreAsync(1); // the first released schema: no visibility, no peer subscriptions
            }

            await PostgresServer.ExecuteAsync($"INSERT INTO \"{schema}\".presence_records VALUES ('@old:example.org', 2, 'from v1', '2025-06-01T00:00:00Z'); INSERT INTO \"{schema}\".presence_lists VALUES ('@a:example.org', '@old:example.org', 1)");

            await using var store = new PostgreSqlPresenceStore(PostgresServer.NewDataSource(), ownsDataSource: true, new PostgreSqlPresenceStoreOptions { Schema = schema }, null, null, null);
            await store.MigrateAsync();
            var loaded = await store.LoadAsync([UserId.Parse("@old:example.org")], CancellationToken.None);
            var entries = new List<PresenceListEntry>();
            await foreach (var entry in store.Lists.LoadAllAsync(CancellationToken.None))
            {
                entries.Add(entry);
            }

            await store.PeerSubscriptions.SaveAsync([new PeerSubscription(ServerName.Parse("peer.test"), UserId.Parse("@old:example.org"), DateTimeOffset.UnixEpoch.AddYears(100))], CancellationToken.None);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(store.GetStatus().SchemaVersion, Is.EqualTo(2));
                Assert.That(await PostgresServer.ScalarAsync<string>($"SELECT string_agg(version::text, ',' ORDER BY version) FROM \"{schema}\".schema_version"), Is.EqualTo("1,2"));
                Assert.That(loaded, Has.Count.EqualTo(1));
                Assert.That(loaded[0].RequestedState, Is.EqualTo(PresenceState.Unavailable));
                Assert.That(loaded[0].StatusMessage, Is.EqualTo("from v1"));
                Assert.That(loaded[0].LastActive, Is.EqualTo(new DateTimeOffset(2025, 6, 1, 0, 0, 0, TimeSpan.Zero)));
                Assert.That(loaded[0].Visibility, Is.EqualTo(PresenceVisibility.RoomMembers), "rows from v1 get the default visibility");
                Assert.That(entries.Select(static e => (e.Observer.Value, e.State)), Is.EqualTo(new[] { ("@a:example.org", PresenceListState.Allowed) }));
            }
        }
        finally
        {
            await PostgresServer.DropSchemaAsync(schema);
        }
    }

    [Test]
    public async Task MigrateAsync_SchemaFromANewerBuild_FailsClearly()
    {
        string schema = PostgresServer.NewSchema();
        try
        {
            await using var store = new PostgreSqlPresenceStore(PostgresServer.NewDataSource(), ownsDataSource: true, new PostgreSqlPresenceStoreOptions { Schema = schema }, null, null, null);
            await store.MigrateAsync();
            await PostgresServer.ExecuteAsync($"INSERT INTO \"{schema}\".schema_version (version) VALUES (99)");
            await using var newer = new PostgreSqlPresenceStore(PostgresServer.NewDataSource(), ownsDataSource: true, new PostgreSqlPresenceStoreOptions { Schema = schema }, null, null, null);

            Assert.That(async () => await newer.MigrateAsync(), Throws.InstanceOf<PostgreSqlPresenceStoreException>().With.Message.Contains("version 99"));
        }
        finally
        {
            await PostgresServer.DropSchemaAsync(schema);
        }
    }

    [Test]
    public async Task SaveAsync_ServerStoppedAndStarted_NothingLostAndWritesResume()
    {
        string schema = PostgresServer.NewSchema();
        PostgresServer.ConnectionString();
        await using var store = new PostgreSqlPresenceStore(PostgresServer.NewDataSource(), ownsDataSource: true, new PostgreSqlPresenceStoreOptions { Schema = schema, RetryDelay = TimeSpan.FromMilliseconds(50), MaxRetryDelay = TimeSpan.FromMilliseconds(200) }, null, null, null);
        try
        {
            await store.SaveAsync([Record(1, "before")], CancellationToken.None);

            await PostgresServer.PauseAsync();
            PostgreSqlPresenceStoreException? failure;
            try
            {
                failure = await Assert.ThrowsAsync<PostgreSqlPresenceStoreException>(async () => await store.SaveAsync([Record(1, "during"), Record(2, "during")], CancellationToken.None));
            }
            finally
            {
                await PostgresServer.ResumeAsync();
            }

            Assert.That(failure!.IsTransient, Is.True);

            // The rows saved while the server was down are written with the next batch (or by the retry loop before it).
            await store.SaveAsync([Record(3, "after")], CancellationToken.None);
            await using var reopened = new PostgreSqlPresenceStore(PostgresServer.NewDataSource(), ownsDataSource: true, new PostgreSqlPresenceStoreOptions { Schema = schema }, null, null, null);
            var loaded = (await reopened.LoadAsync([User(1), User(2), User(3)], CancellationToken.None)).ToDictionary(static r => r.User, static r => r.StatusMessage);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(loaded, Is.EqualTo(new Dictionary<UserId, string?> { [User(1)] = "during", [User(2)] = "during", [User(3)] = "after" }));
                Assert.That(store.GetStatus().IsHealthy, Is.True);
                Assert.That(store.GetStatus().PendingRows, Is.Zero);
            }
        }
        finally
        {
            await PostgresServer.DropSchemaAsync(schema);
        }
    }

    [Test]
    public async Task SaveAsync_ServerStoppedDuringALargeWrite_EveryRowLandsAfterItReturns()
    {
        string schema = PostgresServer.NewSchema();
        PostgresServer.ConnectionString();
        await using var store = new PostgreSqlPresenceStore(PostgresServer.NewDataSource(), ownsDataSource: true, new PostgreSqlPresenceStoreOptions { Schema = schema, BatchSize = 2_000, RetryDelay = TimeSpan.FromMilliseconds(50), MaxRetryDelay = TimeSpan.FromMilliseconds(200) }, null, null, null);
        try
        {
            await store.MigrateAsync();
            var records = Enumerable.Range(0, 40_000).Select(static i => Record(i, "big")).ToList();

            // The server stops while the write runs (or just after: either way nothing may be lost).
            var inflight = store.SaveAsync(records, CancellationToken.None).AsTask();
            await PostgresServer.PauseAsync();
            try
            {
                await inflight;
                TestContext.Out.WriteLine("the write finished before the server stopped");
            }
            catch (PostgreSqlPresenceStoreException failure) when (failure.IsTransient)
            {
                TestContext.Out.WriteLine("the write was cut: " + failure.Message); // told, and the rows are kept
            }
            finally
            {
                await PostgresServer.ResumeAsync();
            }

            await store.SaveAsync([Record(40_000, "after")], CancellationToken.None);
            long stored = await PostgresServer.ScalarAsync<long>($"SELECT count(*) FROM \"{schema}\".presence_records WHERE status_msg = 'big'");

            using (Assert.EnterMultipleScope())
            {
                Assert.That(stored, Is.EqualTo(40_000));
                Assert.That(store.GetStatus().PendingRows, Is.Zero);
            }
        }
        finally
        {
            await PostgresServer.DropSchemaAsync(schema);
        }
    }
}
