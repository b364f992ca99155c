using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using Presence.PostgreSql.Internal;

namespace Presence;

/// <summary>
/// Presence in PostgreSQL (Npgsql). Presence records (<see cref="IPresenceStore"/>) are written behind: saved records wait in a
/// buffer, newest per user, and one loop writes everything waiting in multi-row upserts of up to
/// <see cref="PostgreSqlPresenceStoreOptions.BatchSize"/> rows — at once, so records saved while a write runs go in the next
/// one; <see cref="SaveAsync"/> completes when its records are durable. While the database fails the records are kept (at most
/// <see cref="PostgreSqlPresenceStoreOptions.MaxPendingRows"/>) and retried with backoff. Presence lists
/// (<see cref="Lists"/>) and peer subscriptions (<see cref="PeerSubscriptions"/>) are written through: a call returns when
/// the change is durable and fails with a <see cref="PostgreSqlPresenceStoreException"/> when it is not. The schema is
/// created or migrated by the first operation (or <see cref="MigrateAsync"/>). Thread-safe.
/// </summary>
public sealed class PostgreSqlPresenceStore : IPresenceStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly PostgreSqlPresenceStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly StoreInstruments _metrics;
    private readonly string _schema;
    private readonly Lock _gate = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _disposing = new();
    private readonly Lock _migrateGate = new();
    private Task? _migration;

    // Under _gate.
    private Dictionary<UserId, PresenceRecord> _pending = [];
    private TaskCompletionSource _nextFlush = NewFlush();
    private Task? _writer;
    private bool _disposed;
    private int _consecutiveFailures;
    private DateTimeOffset? _lastFailureAt;
    private string? _lastError;
    private DateTimeOffset? _lastSuccessAt;
    private long _droppedRows;
    private int _schemaVersion;

    /// <summary>Creates a store over a data source the caller owns (and disposes after the store).</summary>
    /// <param name="dataSource">The database.</param>
    /// <param name="options">The options; validated, then copied. Defaults when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for retry delays, deadlines and the status; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="loggerFactory">Where logs go; nowhere when <see langword="null"/>.</param>
    /// <param name="meterFactory">Creates the store's meter (<see cref="PostgreSqlPresenceMetrics.MeterName"/>); a meter of its own when <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="dataSource"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names each one at fault.</exception>
    public PostgreSqlPresenceStore(NpgsqlDataSource dataSource, PostgreSqlPresenceStoreOptions? options = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
        : this(dataSource, ownsDataSource: false, options, timeProvider, loggerFactory, meterFactory)
    {
    }

    internal PostgreSqlPresenceStore(NpgsqlDataSource dataSource, bool ownsDataSource, PostgreSqlPresenceStoreOptions? options, TimeProvider? timeProvider, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        options = (options ?? new PostgreSqlPresenceStoreOptions()).Clone();
        OptionsValidator.ThrowIfInvalid(options);
        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        _options = options;
        _schema = Schema.Quote(options.Schema);
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Presence.Core.PostgreSql");
        _metrics = new StoreInstruments(meterFactory, () => PendingCount);
        Lists = new PostgreSqlPresenceListStore(this);
        PeerSubscriptions = new PostgreSqlPeerSubscriptionStore(this);
    }

    /// <summary>Gets the presence-list store over the same database (written through).</summary>
    public IPresenceListStore Lists { get; }

    /// <summary>Gets the peer-subscription store over the same database (written through).</summary>
    public IPeerSubscriptionStore PeerSubscriptions { get; }

    internal string QuotedSchema => _schema;

    internal NpgsqlDataSource DataSource => _dataSource;

    private int PendingCount
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Reports the store's health: consecutive failures, when the last failure and success were, what waits to be written.</summary>
    /// <returns>A snapshot.</returns>
    public PostgreSqlPresenceStoreStatus GetStatus()
    {
        lock (_gate)
        {
            return new PostgreSqlPresenceStoreStatus(_consecutiveFailures, _lastFailureAt, _lastError, _lastSuccessAt, _pending.Count, _droppedRows, _schemaVersion);
        }
    }

    /// <summary>
    /// Creates the schema or migrates it to this build's version; the first operation does it too. Safe when several engines
    /// start against one database at once (an advisory lock; the second finds the work done). A failed migration is retried
    /// by the next call.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (not a migration already running for another caller).</param>
    /// <returns>A task that completes when the schema is current.</returns>
    public ValueTask MigrateAsync(CancellationToken cancellationToken = default) => new(EnsureSchemaAsync().WaitAsync(cancellationToken));

    internal Task EnsureSchemaAsync()
    {
        lock (_migrateGate)
        {
            if (_migration is null || _migration.IsFaulted || _migration.IsCanceled)
            {
                _migration = MigrateCoreAsync(Schema.Current);
            }

            return _migration;
        }
    }

    /// <summary>Migrates to a given version (tests: build an older schema).</summary>
    internal async Task MigrateCoreAsync(int target)
    {
        try
        {
            var (from, to) = await Schema.MigrateAsync(_dataSource, _options.Schema, target, _disposing.Token).ConfigureAwait(false);
            lock (_gate)
            {
                _schemaVersion = to;
            }

            if (from != to)
            {
                Log.Migrated(_logger, _options.Schema, from, to);
            }

            Succeeded();
        }
        catch (Exception ex) when (ex is not PostgreSqlPresenceStoreException)
        {
            throw Failed("migrating the schema", "migrate", ex);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Completes when the records are durable; fails (the records still kept and retried, up to the pending bound) when the write that carried them failed.</remarks>
    public ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        Task flush;
        int dropped = 0;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            foreach (var record in records)
            {
                ArgumentNullException.ThrowIfNull(record, nameof(records));
                if (_pending.Count < _options.MaxPendingRows || _pending.ContainsKey(record.User))
                {
                    _pending[record.User] = record; // newest wins
                }
                else
                {
                    dropped++;
                }
            }

            _droppedRows += dropped;
            flush = _nextFlush.Task;
            _writer ??= WriteLoopAsync();
        }

        _wake.Writer.TryWrite(true);
        if (dropped > 0)
        {
            _metrics.RowsDropped.Add(dropped);
            Log.RowsDropped(_logger, dropped, _options.MaxPendingRows);
            return ValueTask.FromException(new PostgreSqlPresenceStoreException(
                $"PostgreSQL presence store: {dropped} of {records.Count} presence records were refused; {_options.MaxPendingRows} records already wait for the database (MaxPendingRows).", null, isTransient: true));
        }

        return new ValueTask(flush.WaitAsync(cancellationToken));
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(users);
        var found = new List<PresenceRecord>(users.Count);
        if (users.Count == 0)
        {
            return found;
        }

        var all = users.Select(static user => user.Value).ToArray();
        for (int at = 0; at < all.Length; at += _options.BatchSize)
        {
            var part = all.AsSpan(at, Math.Min(_options.BatchSize, all.Length - at)).ToArray();
            await RunAsync("reading presence records", "load", async connection =>
            {
                var command = new NpgsqlCommand($"SELECT user_id, state, status_msg, last_active, visibility FROM {_schema}.presence_records WHERE user_id = ANY(@users)", connection);
                await using (command.ConfigureAwait(false))
                {
                    command.Parameters.Add(new NpgsqlParameter<string[]>("users", part));
                    var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            if (ReadRecord(reader) is { } record)
                            {
                                found.Add(record);
                            }
                        }
                    }
                }
            }, cancellationToken).ConfigureAwait(false);
        }

        // What waits to be written is newer than what is stored.
        lock (_gate)
        {
            if (_pending.Count > 0)
            {
                for (int i = 0; i < found.Count; i++)
                {
                    if (_pending.TryGetValue(found[i].User, out var newer))
                    {
                        found[i] = newer;
                    }
                }

                var have = found.Select(static record => record.User).ToHashSet();
                foreach (var user in users)
                {
                    if (!have.Contains(user) && _pending.TryGetValue(user, out var waiting))
                    {
                        found.Add(waiting);
                    }
                }
            }
        }

        return found;
    }

    private PresenceRecord? ReadRecord(NpgsqlDataReader reader)
    {
        string id = reader.GetString(0);
        short state = reader.GetInt16(1);
        short visibility = reader.GetInt16(4);
        if (!UserId.TryParse(id, out var user, out var error))
        {
            Log.BadRow(_logger, "presence_records", error);
            return null;
        }

        if (state is < (short)PresenceState.Offline or > (short)PresenceState.Busy || visibility is < 0 or > (short)PresenceVisibility.Nobody)
        {
            Log.BadRow(_logger, "presence_records", "state or visibility out of range");
            return null;
        }

        DateTimeOffset? lastActive = reader.IsDBNull(3) ? null : new DateTimeOffset(reader.GetFieldValue<DateTime>(3), TimeSpan.Zero);
        return new PresenceRecord(user, (PresenceState)state, reader.IsDBNull(2) ? null : reader.GetString(2), lastActive, (PresenceVisibility)visibility);
    }

    /// <summary>The one writer: takes everything waiting, writes it in batches, completes the waiters; on failure keeps the rows and backs off.</summary>
    private async Task WriteLoopAsync()
    {
        await Task.Yield();
        var retryDelay = _options.RetryDelay;
        while (await _wake.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            _wake.Reader.TryRead(out _);
            while (true)
            {
                Dictionary<UserId, PresenceRecord> rows;
                TaskCompletionSource flush;
                lock (_gate)
                {
                    if (_pending.Count == 0)
                    {
                        break;
                    }

                    rows = _pending;
                    _pending = new Dictionary<UserId, PresenceRecord>(Math.Min(rows.Count, _options.BatchSize));
                    flush = _nextFlush;
                    _nextFlush = NewFlush();
                }

                var batch = rows.Values.ToArray();
                int written = 0;
                try
                {
                    await EnsureSchemaAsync().ConfigureAwait(false);
                    for (; written < batch.Length; written += _options.BatchSize)
                    {
                        await WriteBatchAsync(new ArraySegment<PresenceRecord>(batch, written, Math.Min(_options.BatchSize, batch.Length - written))).ConfigureAwait(false);
                    }

                    Succeeded();
                    retryDelay = _options.RetryDelay;
                    flush.TrySetResult();
                }
                catch (Exception ex)
                {
                    bool transient = Transient.Is(ex);
                    lock (_gate)
                    {
                        for (int i = written; i < batch.Length; i++)
                        {
                            _pending.TryAdd(batch[i].User, batch[i]); // a newer record saved meanwhile wins
                        }
                    }

                    var error = Failed("writing presence records", "flush", ex);
                    Log.FlushFailed(_logger, batch.Length - written, transient, retryDelay, ex);
                    flush.TrySetException(error);
                    if (_disposing.IsCancellationRequested)
                    {
                        return; // disposal made its one last attempt
                    }

                    try
                    {
                        await Task.Delay(retryDelay, _time, _disposing.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // Disposing: one last attempt below.
                    }

                    retryDelay = retryDelay * 2 > _options.MaxRetryDelay ? _options.MaxRetryDelay : retryDelay * 2;
                }
            }
        }
    }

    private async Task WriteBatchAsync(ArraySegment<PresenceRecord> batch)
    {
        var users = new string[batch.Count];
        var states = new short[batch.Count];
        var messages = new string?[batch.Count];
        var lastActive = new DateTime?[batch.Count];
        var visibility = new short[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            var record = batch[i];
            users[i] = record.User.Value;
            states[i] = (short)record.RequestedState;
            messages[i] = record.StatusMessage;
            lastActive[i] = record.LastActive?.UtcDateTime;
            visibility[i] = (short)record.Visibility;
        }

        // Bounded by FlushBound only: disposal does not cancel a write, it waits for it.
        using var deadline = new CancellationTokenSource(_options.FlushBound, _time);
        var connection = await _dataSource.OpenConnectionAsync(deadline.Token).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(
                $"""
                INSERT INTO {_schema}.presence_records (user_id, state, status_msg, last_active, visibility)
                SELECT * FROM unnest(@users, @states, @messages, @last_active, @visibility)
                ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state, status_msg = EXCLUDED.status_msg,
                    last_active = EXCLUDED.last_active, visibility = EXCLUDED.visibility
                """, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string[]>("users", users));
                command.Parameters.Add(new NpgsqlParameter<short[]>("states", states));
                command.Parameters.Add(new NpgsqlParameter<string?[]>("messages", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = messages });
                command.Parameters.Add(new NpgsqlParameter<DateTime?[]>("last_active", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { TypedValue = lastActive });
                command.Parameters.Add(new NpgsqlParameter<short[]>("visibility", visibility));
                await command.ExecuteNonQueryAsync(deadline.Token).ConfigureAwait(false);
            }
        }

        _metrics.RowsWritten.Add(batch.Count);
    }

    /// <summary>Runs one write-through or read operation: transient failures retried twice with backoff, then a clear error.</summary>
    internal async Task RunAsync(string what, string operation, Func<NpgsqlConnection, Task> action, CancellationToken cancellationToken)
    {
        var delay = _options.RetryDelay;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await EnsureSchemaAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
                var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    await action(connection).ConfigureAwait(false);
                }

                Succeeded();
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                var error = ex as PostgreSqlPresenceStoreException ?? Failed(what, operation, ex);
                if (!error.IsTransient || attempt == 3)
                {
                    Log.OperationFailed(_logger, what, error.IsTransient, ex);
                    throw error;
                }

                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay = delay * 2 > _options.MaxRetryDelay ? _options.MaxRetryDelay : delay * 2;
            }
        }
    }

    internal void BadRow(string table) => Log.BadRow(_logger, table, "unparsable user, server or state");

    private void Succeeded()
    {
        int failures;
        lock (_gate)
        {
            failures = _consecutiveFailures;
            _consecutiveFailures = 0;
            _lastSuccessAt = _time.GetUtcNow();
        }

        if (failures > 0)
        {
            Log.Recovered(_logger, failures);
        }
    }

    private PostgreSqlPresenceStoreException Failed(string what, string operation, Exception ex)
    {
        bool transient = Transient.Is(ex);
        lock (_gate)
        {
            _consecutiveFailures++;
            _lastFailureAt = _time.GetUtcNow();
            _lastError = $"{what}: {ex.GetType().Name}: {ex.Message}";
        }

        _metrics.Failed(operation, transient);
        return new PostgreSqlPresenceStoreException($"PostgreSQL presence store: {what} failed{(transient ? " (the database may be unreachable; retry later)" : string.Empty)}: {ex.Message}", ex, transient);
    }

    private static TaskCompletionSource NewFlush()
    {
        var flush = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = flush.Task.ContinueWith(static task => _ = task.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default); // observed even with no waiter left
        return flush;
    }

    /// <summary>Writes what waits (one last attempt, bounded by <see cref="PostgreSqlPresenceStoreOptions.FlushBound"/> per batch), then stops. Idempotent.</summary>
    /// <returns>A task that completes when the store has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        Task? writer;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            writer = _writer;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        _wake.Writer.TryComplete();
        if (writer is not null)
        {
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.OperationFailed(_logger, "the last write", Transient.Is(ex), ex);
            }
        }

        int left = PendingCount;
        if (left > 0)
        {
            Log.AbandonedOnDispose(_logger, left);
        }

        _nextFlush.TrySetException(new ObjectDisposedException(nameof(PostgreSqlPresenceStore)));
        _metrics.Dispose();
        _disposing.Dispose();
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }
}
