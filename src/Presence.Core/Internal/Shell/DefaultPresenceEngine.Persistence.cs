namespace Presence.Internal;

/// <summary>Write-behind persistence: dirty users are queued under the lock and saved in batches by one loop.</summary>
internal sealed partial class DefaultPresenceEngine
{
    private const int MaxRecordsPerSave = 512;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromMinutes(1);

    private async Task WriteBehindAsync()
    {
        var reader = _dirty.Reader;
        var retryDelay = FirstRetryDelay;
        var batch = new List<PresenceRecord>();
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxRecordsPerSave && reader.TryRead(out var user))
            {
                var shard = ShardOf(user);
                lock (shard.Gate)
                {
                    if (shard.Table.TryFind(user, out int index) && shard.Table[index].Dirty && !shard.Table[index].Loading)
                    {
                        batch.Add(shard.Table.TakeRecord(index, shard.Now(_time)));
                    }
                }
            }

            if (batch.Count == 0)
            {
                continue;
            }

            try
            {
                await _store.SaveAsync(batch.ToArray(), _saveDeadline.Token).ConfigureAwait(false);
                retryDelay = FirstRetryDelay;
            }
            catch (Exception ex)
            {
                _metrics.StoreFailures.Add(1, new KeyValuePair<string, object?>("operation", "save"));
                if (_stopping.IsCancellationRequested)
                {
                    Log.StoreSaveAbandoned(_logger, batch.Count, ex);
                    continue;
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

                retryDelay = retryDelay * 2 > LastRetryDelay ? LastRetryDelay : retryDelay * 2;
            }
        }
    }
}
