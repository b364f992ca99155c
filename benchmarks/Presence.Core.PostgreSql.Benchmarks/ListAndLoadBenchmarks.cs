using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Npgsql;

namespace Presence.PostgreSql.Benchmarks;

/// <summary>
/// Written-through list changes and on-demand loads, each against the bare Npgsql statement doing the same round trip:
/// a list save (one upsert) against a bare single-row upsert; a load of one user and of 512 users (the engine's batch)
/// against a bare primary-key SELECT. 1,000 operations per invoke, one after another (each awaited, as the engine does).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 8)]
public class ListAndLoadBenchmarks
{
    private const int Operations = 1_000;
    private const string Schema = "bench_lists";

    private NpgsqlDataSource _dataSource = null!;
    private PostgreSqlPresenceStore _store = null!;
    private UserId[] _users = null!;
    private int _iteration;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        (_dataSource, _store) = await Database.OpenStoreAsync(Schema);
        _users = Database.Users(100_000);
        for (int at = 0; at < _users.Length; at += 5_000)
        {
            await _store.SaveAsync(_users.Skip(at).Take(5_000).Select(static u => new PresenceRecord(u, PresenceState.Online, "hello", null)).ToList(), CancellationToken.None);
        }
    }

    [IterationSetup]
    public void NextIteration() => _iteration++;

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public async Task BareUpsert()
    {
        for (int i = 0; i < Operations; i++)
        {
            await using var command = _dataSource.CreateCommand($"INSERT INTO {Schema}.presence_lists (observer, observed, state) VALUES ($1, $2, $3) ON CONFLICT (observer, observed) DO UPDATE SET state = EXCLUDED.state");
            command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = _users[i].Value });
            command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = _users[i + 1].Value });
            command.Parameters.Add(new NpgsqlParameter<short>() { TypedValue = (short)(_iteration % 3) });
            await command.ExecuteNonQueryAsync();
        }
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public async Task ListSave()
    {
        var state = (PresenceListState)(_iteration % 3);
        for (int i = 0; i < Operations; i++)
        {
            await _store.Lists.SaveAsync(new PresenceListEntry(_users[i], _users[i + 1], state), CancellationToken.None);
        }
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public async Task BareSelectOne()
    {
        for (int i = 0; i < Operations; i++)
        {
            await using var command = _dataSource.CreateCommand($"SELECT user_id, state, status_msg, last_active, visibility FROM {Schema}.presence_records WHERE user_id = $1");
            command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = _users[(i * 97) % _users.Length].Value });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
            }
        }
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public async Task LoadOne()
    {
        for (int i = 0; i < Operations; i++)
        {
            await _store.LoadAsync([_users[(i * 97) % _users.Length]], CancellationToken.None);
        }
    }

    /// <summary>Loads of 512 users at once (the engine batches reads of users brought back into memory); reported per user.</summary>
    [Benchmark(OperationsPerInvoke = Operations * 512 / 8)]
    public async Task LoadBatchOf512PerUser()
    {
        for (int i = 0; i < Operations / 8; i++)
        {
            await _store.LoadAsync(new ArraySegment<UserId>(_users, (i * 512) % (_users.Length - 512), 512), CancellationToken.None);
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await Database.CloseStoreAsync(_dataSource, _store, Schema);
    }
}
