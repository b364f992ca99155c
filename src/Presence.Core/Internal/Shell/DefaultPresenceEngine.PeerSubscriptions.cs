namespace Presence.Internal;

/// <summary>
/// Persistence of the subscriptions peers hold to our users (<see cref="IPeerSubscriptionStore"/>): every add, renewal
/// and removal is noted under the lock and written after it, in order, one write at a time; a poll's changes are written
/// before <see cref="ReceiveAsync"/> returns. Restored at start, expired promises left out.
/// </summary>
internal sealed partial class DefaultPresenceEngine
{
    private readonly IPeerSubscriptionStore _peerStore;
    private readonly SemaphoreSlim _peerWrites = new(1, 1);

    /// <summary>Changes not yet written, in order: (peer, user, subscribed). Lock held.</summary>
    private List<(ServerName Peer, UserId User, bool Subscribed)>? _peerChanges;
    private int _peerChangesPending;

    /// <summary>Notes that a peer subscribed to (or renewed) or left a local user. Lock held.</summary>
    private void NotePeerSubscriptionLocked(ServerName peer, UserId user, bool subscribed)
    {
        (_peerChanges ??= []).Add((peer, user, subscribed));
        Volatile.Write(ref _peerChangesPending, 1);
    }

    /// <summary>Reads the stored subscriptions at start, before the engine runs.</summary>
    private async Task<List<PeerSubscription>> LoadPeerSubscriptionsAsync(CancellationToken cancellationToken)
    {
        var found = new List<PeerSubscription>();
        await foreach (var subscription in _peerStore.LoadAllAsync(_time.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            found.Add(subscription);
        }

        return found;
    }

    /// <summary>Restores stored subscriptions at start (nothing is written back). Lock held.</summary>
    private void RestorePeerSubscriptionsLocked(List<PeerSubscription> subscriptions, long now)
    {
        foreach (var subscription in subscriptions)
        {
            if (subscription.User.IsOn(_server) && !subscription.Peer.Equals(_server))
            {
                AddPeerSubscriberLocked(subscription.Peer, subscription.User, now);
            }
            else
            {
                Reject("stored_foreign_user", "the peer-subscription store returned a subscription to a user of another server");
            }
        }

        _peerChanges = null;
        Volatile.Write(ref _peerChangesPending, 0);
    }

    /// <summary>Writes noted changes in the background (paths with nobody to await them: pruning, a peer given up).</summary>
    private void PersistPeerSubscriptionsInBackground()
    {
        if (Volatile.Read(ref _peerChangesPending) == 0)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await PersistPeerSubscriptionsAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Logged and counted in PersistPeerSubscriptionsAsync; the changes wait for the next write.
            }
        });
    }

    /// <summary>Writes every noted change, in order, outside the lock; on failure they are kept for the next write and the error is thrown.</summary>
    /// <remarks>
    /// With nothing noted and no write running, returns at once (a push-only message waits for nothing). Otherwise it takes
    /// the semaphore: a write already running (from the background) may carry this caller's changes, and a failed one puts
    /// them back before it releases.
    /// </remarks>
    private async ValueTask PersistPeerSubscriptionsAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _peerChangesPending) == 0 && _peerWrites.CurrentCount == 1)
        {
            return;
        }

        await _peerWrites.WaitAsync(cancellationToken).ConfigureAwait(false);
        List<(ServerName Peer, UserId User, bool Subscribed)>? changes = null;
        try
        {
            lock (_lock)
            {
                changes = _peerChanges; // taken after the semaphore: writes leave in the order they were made
                _peerChanges = null;
                Volatile.Write(ref _peerChangesPending, 0);
            }

            if (changes is null)
            {
                return;
            }

            // The last change of each pair wins.
            var last = new Dictionary<(ServerName, UserId), bool>();
            foreach (var (peer, user, subscribed) in changes)
            {
                last[(peer, user)] = subscribed;
            }

            var expiresAt = _time.GetUtcNow() + _options.Federation.DefaultPromiseLifetime;
            var saves = last.Where(static pair => pair.Value).Select(pair => new PeerSubscription(pair.Key.Item1, pair.Key.Item2, expiresAt)).ToList();
            if (saves.Count > 0)
            {
                await _peerStore.SaveAsync(saves, cancellationToken).ConfigureAwait(false);
            }

            foreach (var group in last.Where(static pair => !pair.Value).GroupBy(static pair => pair.Key.Item1))
            {
                await _peerStore.RemoveAsync(group.Key, group.Select(static pair => pair.Key.Item2).ToList(), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            if (changes is not null)
            {
                lock (_lock)
                {
                    // Kept, before anything noted since: rewritten (idempotently) by the next write.
                    changes.AddRange(_peerChanges ?? []);
                    _peerChanges = changes;
                    Volatile.Write(ref _peerChangesPending, 1);
                }
            }

            if (ex is not OperationCanceledException)
            {
                _metrics.StoreFailures.Add(1, new KeyValuePair<string, object?>("operation", "peer_subscription_save"));
                Log.PeerSubscriptionSaveFailed(_logger, ex);
            }

            throw;
        }
        finally
        {
            _peerWrites.Release();
        }
    }
}
