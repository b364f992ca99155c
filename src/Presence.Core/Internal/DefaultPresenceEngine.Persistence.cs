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
            lock (_lock)
            {
                long now = Now();
                while (batch.Count < MaxRecordsPerSave && reader.TryRead(out int index))
                {
                    if (_table[index].Dirty)
                    {
                        batch.Add(_table.TakeRecord(index, now));
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
                lock (_lock)
                {
                    foreach (var record in batch)
                    {
                        if (_table.TryFind(record.User, out int index))
                        {
                            _table.MarkDirty(index);
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
