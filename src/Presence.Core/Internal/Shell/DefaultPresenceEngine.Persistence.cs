namespace Presence.Internal;

/// <summary>Write-behind persistence: dirty users are queued under the lock and saved in batches by one loop.</summary>
internal sealed partial class DefaultPresenceEngine
{
    private const int MaxRecordsPerSave = 512;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);
    /// <summary>
    /// The longest wait between two save attempts while the store fails: once the store is back, changes made meanwhile
    /// are saved within this (a store such as the PostgreSQL one writes what it already holds on its own sooner).
    /// </summary>
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromSeconds(10);

    private async Task WriteBehindAsync()
    {
        var retryDelay = FirstRetryDelay;
        var batch = new List<PresenceRecord>();
        bool more = true;
        while (more)
        {
            more = await _dirtyWake.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false);
            _dirtyWake.Reader.TryRead(out _); // one pass serves every wake-up so far; the last pass runs after completion
            foreach (var shard in _shards)
            {
                List<UserId> users;
                lock (shard.Gate)
                {
                    if (shard.Dirty.Count == 0)
                    {
                        continue;
                    }

                    users = shard.TakeDirty();
                }

                for (int at = 0; at < users.Count; at += MaxRecordsPerSave)
                {
                    batch.Clear();
                    lock (shard.Gate)
                    {
                        long now = shard.Now(_time);
                        for (int i = at; i < Math.Min(users.Count, at + MaxRecordsPerSave); i++)
                        {
                            if (shard.Table.TryFind(users[i], out int index) && shard.Table[index].Dirty && !shard.Table[index].Loading)
                            {
                                batch.Add(shard.Table.TakeRecord(index, now));
                            }
                        }
                    }

                    if (batch.Count > 0)
                    {
                        retryDelay = await SaveAsync(batch, retryDelay).ConfigureAwait(false);
                        lock (shard.Gate)
                        {
                            long now = shard.Now(_time);
                            foreach (var record in batch)
                            {
                                shard.Table.SaveEnded(record.User, now); // until now they could not leave memory
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Saves one batch; on failure marks its users dirty again (they are retried) and waits with backoff. Returns the next delay.</summary>
    private async Task<TimeSpan> SaveAsync(List<PresenceRecord> batch, TimeSpan retryDelay)
    {
        try
        {
            await _store.SaveAsync(batch.ToArray(), _saveDeadline.Token).ConfigureAwait(false);
            Volatile.Write(ref _consecutiveSaveFailures, 0);
            return FirstRetryDelay;
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _consecutiveSaveFailures); // before the metric: who sees the metric sees the status
            _metrics.StoreFailures.Add(1, new KeyValuePair<string, object?>("operation", "save"));
            if (_stopping.IsCancellationRequested)
            {
                Log.StoreSaveAbandoned(_logger, batch.Count, ex);
                return retryDelay;
            }

            Log.StoreSaveFailed(_logger, batch.Count, retryDelay, ex);
            foreach (var record in batch)
            {
                var shard = ShardOf(record.User);
                lock (shard.Gate)
                {
                    if (shard.Table.TryFind(record.User, out int index))
                    {
                        shard.Table.MarkDirty(index);
                    }
                }
            }

            try
            {
                await Task.Delay(retryDelay, _time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping: the loop drains what is queued once more.
            }

            return retryDelay * 2 > LastRetryDelay ? LastRetryDelay : retryDelay * 2;
        }
    }
}
