using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Presence.Internal;

/// <summary>
/// One local user's push feed, built on the presence stream: it holds a stream token and a wake-up, not the changes. A
/// change the viewer may see wakes it; when the window ends, what changed since its token (latest per user) becomes one
/// batch in a one-slot channel. If the reader has not taken the previous batch, nothing more is read: when it takes it,
/// the batch is read afresh from that batch's token, so it carries everything since, latest state per user. Memory is
/// one token and at most one unread batch.
/// </summary>
/// <remarks>Lock order: the engine's lock, then this feed's (the engine wakes feeds under its lock).</remarks>
internal sealed class Subscription : IPresenceSubscription
{
    private readonly DefaultPresenceEngine _owner;
    private readonly Lock _lock = new();
    private readonly Channel<IReadOnlyList<PresenceSnapshot>> _channel =
        Channel.CreateBounded<IReadOnlyList<PresenceSnapshot>>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.Wait });
    private readonly TimeSpan _window;
    private readonly ITimer _timer;
    private readonly Counter<long> _batches;

    /// <summary>Where the stream is read from next.</summary>
    private PresenceStreamToken _token;

    /// <summary>Where the unread batch in the channel was read from (to read it afresh when the reader fell behind).</summary>
    private PresenceStreamToken _unreadFrom;
    private int _unreadCount;
    private bool _armed;
    private bool _overdue;
    private bool _closed;

    public Subscription(DefaultPresenceEngine owner, UserId viewer, TimeSpan window, TimeProvider time, Counter<long> batches)
    {
        _owner = owner;
        Viewer = viewer;
        _window = window;
        _batches = batches;
        _timer = time.CreateTimer(static state => ((Subscription)state!).OnWindowElapsed(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public UserId Viewer { get; }

    /// <summary>Gets how many users the unread batch holds (the feed holds nothing else).</summary>
    internal int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _closed ? 0 : _unreadCount;
            }
        }
    }

    public bool TryRead(out IReadOnlyList<PresenceSnapshot> batch)
    {
        IReadOnlyList<PresenceSnapshot>? read = null;
        _owner.RunLocked(() =>
        {
            lock (_lock)
            {
                if (!_channel.Reader.TryRead(out read))
                {
                    return;
                }

                _unreadCount = 0;
                if (_overdue && !_closed)
                {
                    // Fell behind: the batch is read afresh from where it started, with everything since folded in.
                    _overdue = false;
                    var fresh = _owner.ReadFeedLocked(Viewer, _unreadFrom);
                    _token = fresh.NextToken;
                    read = fresh.Changes;
                }
            }
        });

        batch = read ?? [];
        return read is not null;
    }

    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _channel.Reader.WaitToReadAsync(cancellationToken);

    public async IAsyncEnumerable<IReadOnlyList<PresenceSnapshot>> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out var batch))
            {
                yield return batch;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _owner.Unsubscribe(this);
        Close();
        return ValueTask.CompletedTask;
    }

    /// <summary>Ends the feed and frees what it holds. Idempotent.</summary>
    internal void Close()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _unreadCount = 0;
            _timer.Dispose();
            _channel.Writer.TryComplete();
            while (_channel.Reader.TryRead(out _))
            {
            }
        }
    }

    /// <summary>The first batch, at once: the current presence of everyone visible (always written, even empty). Engine lock held.</summary>
    internal void DeliverInitial(PresenceChanges initial)
    {
        lock (_lock)
        {
            _unreadFrom = PresenceStreamToken.None;
            _token = initial.NextToken;
            _unreadCount = initial.Changes.Count;
            _channel.Writer.TryWrite(initial.Changes);
            _batches.Add(1);
        }
    }

    /// <summary>A change the viewer may see is in the stream: a batch is due at the end of the window. Engine lock held.</summary>
    internal void Wake()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            if (_window == TimeSpan.Zero)
            {
                FlushLocked();
            }
            else if (!_armed && !_overdue)
            {
                _armed = true;
                _timer.Change(_window, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void OnWindowElapsed()
    {
        if (_owner.RunOutsideLocks(static subscription => subscription.OnWindowElapsed(), this))
        {
            return; // invoked under one of the engine's locks (a TimeProvider firing timers inline)
        }

        try
        {
            _owner.RunLocked(() =>
            {
                lock (_lock)
                {
                    _armed = false;
                    if (!_closed)
                    {
                        FlushLocked();
                    }
                }
            });
        }
        catch (Exception ex)
        {
            _owner.OnSubscriptionFailure(ex); // nothing throws out of a timer callback
        }
    }

    /// <summary>Reads what changed since the token into the channel, unless the reader has not taken the last batch. Both locks held.</summary>
    private void FlushLocked()
    {
        if (_overdue)
        {
            return;
        }

        if (_channel.Reader.Count > 0)
        {
            _overdue = true; // read afresh when the reader takes the batch it has
            return;
        }

        var changes = _owner.ReadFeedLocked(Viewer, _token);
        if (changes.Changes.Count == 0)
        {
            _token = changes.NextToken;
            return;
        }

        if (_channel.Writer.TryWrite(changes.Changes))
        {
            _unreadFrom = _token;
            _unreadCount = changes.Changes.Count;
            _token = changes.NextToken;
            _batches.Add(1);
        }
    }
}
