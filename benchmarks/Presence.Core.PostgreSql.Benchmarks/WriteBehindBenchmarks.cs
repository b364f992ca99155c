using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Npgsql;
using NpgsqlTypes;

namespace Presence.PostgreSql.Benchmarks;

/// <summary>
/// Presence writes of 100,000 users per operation, reported per row: through the engine's write-behind into the PostgreSQL
/// store (SetPresence for every user, then until the store has made every record durable), through the store alone in the
/// engine's batch size, and — the baseline — a bare binary COPY of the same rows into a table of the same shape.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 8)]
public class WriteBehindBenchmarks
{
    public const int Users = 100_000;
    private const string Schema = "bench_write";

    private NpgsqlDataSource _dataSource = null!;
    private PostgreSqlPresenceStore _store = null!;
    private CountingStore _counting = null!;
    private IPresenceEngine _engine = null!;
    private UserId[] _users = null!;
    private int _iteration;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        (_dataSource, _store) = await Database.OpenStoreAsync(Schema);
        await Database.ExecuteAsync(_dataSource, $"CREATE TABLE {Schema}.copy_target (LIKE {Schema}.presence_records INCLUDING ALL)");
        _counting = new CountingStore(_store);
        _users = Database.Users(Users);
        _engine = PresenceEngine.Create(new PresenceOptions { ServerName = ServerName.Parse("bench.test") }, new InMemoryMembershipView(), _counting);
        await _engine.StartAsync();
    }

    [IterationSetup]
    public void NextIteration() => _iteration++;

    /// <summary>Baseline: the same 100,000 rows by binary COPY into an indexed table of the same shape (truncated first).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Users)]
    public async Task BareCopy()
    {
        await Database.ExecuteAsync(_dataSource, $"TRUNCATE {Schema}.copy_target");
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var import = await connection.BeginBinaryImportAsync($"COPY {Schema}.copy_target (user_id, state, status_msg, last_active, visibility) FROM STDIN (FORMAT BINARY)");
        var now = DateTime.UtcNow;
        string status = Status();
        foreach (var user in _users)
        {
            await import.StartRowAsync();
            await import.WriteAsync(user.Value, NpgsqlDbType.Text);
            await import.WriteAsync((short)PresenceState.Online, NpgsqlDbType.Smallint);
            await import.WriteAsync(status, NpgsqlDbType.Text);
            await import.WriteAsync(now, NpgsqlDbType.TimestampTz);
            await import.WriteAsync((short)0, NpgsqlDbType.Smallint);
        }

        await import.CompleteAsync();
    }

    /// <summary>Every user sets a new status; done when the engine's write-behind has made all 100,000 durable in PostgreSQL.</summary>
    [Benchmark(OperationsPerInvoke = Users)]
    public async Task EngineWriteBehind()
    {
        string status = Status();
        var done = _counting.Expect(Users);
        foreach (var user in _users)
        {
            _engine.SetPresence(user, "device", PresenceState.Online, status);
        }

        await done;
    }

    /// <summary>The store alone: 100,000 records saved in the engine's batches of 512, each awaited until durable.</summary>
    [Benchmark(OperationsPerInvoke = Users)]
    public async Task StoreSaveBatches()
    {
        string status = Status();
        var batch = new PresenceRecord[512];
        for (int at = 0; at < _users.Length; at += batch.Length)
        {
            int count = Math.Min(batch.Length, _users.Length - at);
            for (int i = 0; i < count; i++)
            {
                batch[i] = new PresenceRecord(_users[at + i], PresenceState.Online, status, null);
            }

            await _store.SaveAsync(count == batch.Length ? batch : batch[..count], CancellationToken.None);
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _engine.DisposeAsync();
        await Database.CloseStoreAsync(_dataSource, _store, Schema);
    }

    private string Status() => "status " + _iteration;

    /// <summary>Signals when a number of records has been saved (durably: after the inner store's save completed).</summary>
    private sealed class CountingStore(IPresenceStore inner) : IPresenceStore
    {
        private readonly Lock _gate = new();
        private int _left;
        private TaskCompletionSource? _done;

        public Task Expect(int records)
        {
            lock (_gate)
            {
                _left = records;
                _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return _done.Task;
            }
        }

        public async ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken)
        {
            await inner.SaveAsync(records, cancellationToken);
            lock (_gate)
            {
                _left -= records.Count;
                if (_left <= 0)
                {
                    _done?.TrySetResult();
                }
            }
        }

        public ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken) => inner.LoadAsync(users, cancellationToken);
    }
}
