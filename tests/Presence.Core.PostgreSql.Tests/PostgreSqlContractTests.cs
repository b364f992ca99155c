using Npgsql;
using Presence.Testing;

namespace Presence.Core.PostgreSql.Tests;

/// <summary>One schema per test; "reopen" is a new store (and data source) over the same schema, as after a restart.</summary>
internal sealed class SchemaFixture : IAsyncDisposable
{
    private readonly List<(PostgreSqlPresenceStore Store, NpgsqlDataSource DataSource)> _opened = [];

    public string Schema { get; } = PostgresServer.NewSchema();

    /// <summary>Small batches, so the contract's large round trip crosses several.</summary>
    public PostgreSqlPresenceStore Open()
    {
        var dataSource = PostgresServer.NewDataSource();
        var store = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { Schema = Schema, BatchSize = 1_000 });
        _opened.Add((store, dataSource));
        return store;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (store, dataSource) in _opened)
        {
            await store.DisposeAsync();
            await dataSource.DisposeAsync();
        }

        _opened.Clear();
        await PostgresServer.DropSchemaAsync(Schema);
    }
}

[TestFixture]
public sealed class PostgreSqlPresenceStoreContractTests : PresenceStoreContractTests
{
    private SchemaFixture? _schema;

    [SetUp]
    public void SetUp() => _schema = new SchemaFixture();

    [TearDown]
    public async Task TearDown() => await _schema!.DisposeAsync();

    protected override ValueTask<IPresenceStore> CreateStoreAsync() => ValueTask.FromResult<IPresenceStore>(Open());

    protected override ValueTask<IPresenceStore> ReopenAsync(IPresenceStore store) => ValueTask.FromResult<IPresenceStore>(Open());

    private PostgreSqlPresenceStore Open()
    {
        PostgresServer.ConnectionString();
        return _schema!.Open();
    }
}

[TestFixture]
public sealed class PostgreSqlPresenceListStoreContractTests : PresenceListStoreContractTests
{
    private SchemaFixture? _schema;

    [SetUp]
    public void SetUp() => _schema = new SchemaFixture();

    [TearDown]
    public async Task TearDown() => await _schema!.DisposeAsync();

    protected override ValueTask<IPresenceListStore> CreateStoreAsync() => ValueTask.FromResult(Open());

    protected override ValueTask<IPresenceListStore> ReopenAsync(IPresenceListStore store) => ValueTask.FromResult(Open());

    private IPresenceListStore Open()
    {
        PostgresServer.ConnectionString();
        return _schema!.Open().Lists;
    }
}

[TestFixture]
public sealed class PostgreSqlPeerSubscriptionStoreContractTests : PeerSubscriptionStoreContractTests
{
    private SchemaFixture? _schema;

    [SetUp]
    public void SetUp() => _schema = new SchemaFixture();

    [TearDown]
    public async Task TearDown() => await _schema!.DisposeAsync();

    protected override ValueTask<IPeerSubscriptionStore> CreateStoreAsync() => ValueTask.FromResult(Open());

    protected override ValueTask<IPeerSubscriptionStore> ReopenAsync(IPeerSubscriptionStore store) => ValueTask.FromResult(Open());

    private IPeerSubscriptionStore Open()
    {
        PostgresServer.ConnectionString();
        return _schema!.Open().PeerSubscriptions;
    }
}
