using System.Buffers.Binary;

namespace Presence.Internal;

/// <summary>
/// The presence stream's positions: every published change (and every change told to one viewer only — a retraction, a
/// reveal, a newly shared room) gets a position in its partition, and the last <c>PresenceOptions.StreamRetention</c>
/// positions are kept. Shards map onto at most <see cref="MaxPartitions"/> partitions (so a token stays short however many
/// shards there are); a token is the engine instance's random ID and one position per partition. Plain synchronous code,
/// no locks: the engine calls it under its interest lock.
/// </summary>
internal sealed class PresenceStream
{
    /// <summary>Tokens carry one position per partition; more shards share partitions.</summary>
    public const int MaxPartitions = 16;

    private const byte TokenVersion = 1;
    private readonly Partition[] _partitions;
    private readonly long _instance;
    private long _stamp;

    public PresenceStream(int shardCount, int retention, long instance)
    {
        int count = Math.Clamp(shardCount, 1, MaxPartitions);
        int capacity = Math.Max(1, (retention + count - 1) / count);
        _partitions = new Partition[count];
        for (int i = 0; i < count; i++)
        {
            _partitions[i] = new Partition(capacity);
        }

        _instance = instance;
    }

    public int PartitionCount => _partitions.Length;

    /// <summary>Entries held now, over every partition (at most the retention).</summary>
    public int Retained => _partitions.Sum(static p => p.Count);

    /// <summary>Users with a retained change (the per-user index), for tests of the bound.</summary>
    public int IndexedUsers => _partitions.Sum(static p => p.IndexedUsers);

    public int PartitionOfShard(int shard) => shard % _partitions.Length;

    /// <summary>Records a published change of <paramref name="snapshot"/>'s user.</summary>
    public void Append(int partition, PresenceSnapshot snapshot) => _partitions[partition].Append(snapshot, default, ++_stamp);

    /// <summary>Records a change told to <paramref name="viewer"/> only (in the viewer's partition).</summary>
    public void AppendFor(int partition, UserId viewer, PresenceSnapshot snapshot) => _partitions[partition].Append(snapshot, viewer, ++_stamp);

    /// <summary>The current end of the stream: one position per partition.</summary>
    public long[] Heads() => [.. _partitions.Select(static p => p.Head)];

    /// <summary>How many positions lie after <paramref name="cut"/>.</summary>
    public long CountSince(long[] cut)
    {
        long count = 0;
        for (int p = 0; p < _partitions.Length; p++)
        {
            count += _partitions[p].Head - cut[p];
        }

        return count;
    }

    /// <summary>The latest change of <paramref name="user"/> after <paramref name="after"/> in its partition, if one is retained.</summary>
    public bool TryLatest(int partition, UserId user, long after, out StreamItem item)
    {
        var part = _partitions[partition];
        if (part.TryLatest(user, out long position) && position > after)
        {
            item = part.ItemAt(position, partition);
            return true;
        }

        item = default;
        return false;
    }

    /// <summary>Every change (not those told to one viewer) after the cut, oldest first.</summary>
    public IEnumerable<StreamItem> ChangesSince(long[] cut)
    {
        for (int p = 0; p < _partitions.Length; p++)
        {
            var part = _partitions[p];
            for (long position = cut[p] + 1; position <= part.Head; position++)
            {
                var item = part.ItemAt(position, p);
                if (item.Viewer.IsEmpty)
                {
                    yield return item;
                }
            }
        }
    }

    /// <summary>The changes told to <paramref name="viewer"/> only after <paramref name="after"/>, newest first.</summary>
    public IEnumerable<StreamItem> TargetedSince(int partition, UserId viewer, long after)
    {
        var part = _partitions[partition];
        if (!part.TryLatestFor(viewer, out long position))
        {
            yield break;
        }

        while (position > after && position >= part.Oldest)
        {
            var item = part.ItemAt(position, partition);
            yield return item;
            position = item.PreviousForViewer;
        }
    }

    /// <summary>Writes a token: this instance, a position per partition, and where an unfinished snapshot resumes.</summary>
    public PresenceStreamToken Encode(long[] cut, ulong? snapshotFrom)
    {
        Span<byte> buffer = stackalloc byte[1 + 8 + 1 + 10 + 1 + (MaxPartitions * 10)];
        int at = 0;
        buffer[at++] = TokenVersion;
        BinaryPrimitives.WriteInt64LittleEndian(buffer[at..], _instance);
        at += 8;
        buffer[at++] = snapshotFrom is null ? (byte)0 : (byte)1;
        if (snapshotFrom is { } from)
        {
            at += WriteVarint(buffer[at..], from);
        }

        buffer[at++] = (byte)cut.Length;
        foreach (long position in cut)
        {
            at += WriteVarint(buffer[at..], (ulong)position);
        }

        return PresenceStreamToken.Parse(Base64Url(buffer[..at]));
    }

    /// <summary>
    /// Reads a token this instance wrote whose positions are all still retained. False for anything else — empty, another
    /// engine's or a previous run's, garbled, or older than the retained window: the caller answers with a full snapshot.
    /// </summary>
    public bool TryDecode(PresenceStreamToken token, out long[] cut, out ulong? snapshotFrom)
    {
        cut = [];
        snapshotFrom = null;
        string text = token.ToString();
        if (text.Length == 0 || text.Length > PresenceStreamToken.MaxLength)
        {
            return false;
        }

        foreach (char c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
            {
                return false; // the decoder throws on what is not base64url; a client's garbage is no error here
            }
        }

        byte[] bytes;
        try
        {
            bytes = System.Buffers.Text.Base64Url.DecodeFromChars(text); // at most 192 bytes (the token's length limit)
        }
        catch (FormatException)
        {
            return false;
        }

        ReadOnlySpan<byte> data = bytes;
        if (data.Length < 11 || data[0] != TokenVersion || BinaryPrimitives.ReadInt64LittleEndian(data[1..]) != _instance)
        {
            return false;
        }

        int at = 9;
        byte flags = data[at++];
        if (flags > 1)
        {
            return false;
        }

        if (flags == 1)
        {
            if (!TryReadVarint(data, ref at, out ulong from))
            {
                return false;
            }

            snapshotFrom = from;
        }

        if (at >= data.Length || data[at++] != _partitions.Length)
        {
            return false;
        }

        var positions = new long[_partitions.Length];
        for (int p = 0; p < positions.Length; p++)
        {
            if (!TryReadVarint(data, ref at, out ulong value) || value > long.MaxValue)
            {
                return false;
            }

            long position = (long)value;
            var part = _partitions[p];
            if (position > part.Head || position < part.Oldest - 1)
            {
                return false; // from the future (never written here) or older than what is retained
            }

            positions[p] = position;
        }

        if (at != data.Length)
        {
            return false;
        }

        cut = positions;
        return true;
    }

    private static int WriteVarint(Span<byte> buffer, ulong value)
    {
        int at = 0;
        while (value >= 0x80)
        {
            buffer[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[at++] = (byte)value;
        return at;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> data, ref int at, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (at >= data.Length)
            {
                return false;
            }

            byte b = data[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    /// <summary>One retained position.</summary>
    private struct Entry
    {
        public PresenceSnapshot Snapshot;

        /// <summary>The one viewer the change was told to, or empty for a published change everyone who may see the user is owed.</summary>
        public UserId Viewer;

        /// <summary>For a change told to one viewer: that viewer's previous such position (a chain through the ring).</summary>
        public long PreviousForViewer;

        /// <summary>Publication order over every partition (positions are per partition).</summary>
        public long Stamp;
    }

    /// <summary>
    /// A ring of the last positions of one partition (grown on demand up to its capacity, so a quiet engine holds little), and
    /// per-user indexes of the latest retained ones.
    /// </summary>
    private sealed class Partition(int capacity)
    {
        private Entry[] _ring = new Entry[Math.Min(capacity, 64)];
        private readonly Dictionary<UserId, long> _latest = [];
        private readonly Dictionary<UserId, long> _latestFor = [];

        /// <summary>The last position written; 0 before the first.</summary>
        public long Head { get; private set; }

        /// <summary>The oldest position still held.</summary>
        public long Oldest => Math.Max(1, Head - _ring.Length + 1);

        public int Count => (int)Math.Min(Head, _ring.Length);

        public int IndexedUsers => _latest.Count + _latestFor.Count;

        public void Append(PresenceSnapshot snapshot, UserId viewer, long stamp)
        {
            long position = Head + 1;
            if (position > _ring.Length && _ring.Length < capacity)
            {
                Grow();
            }

            ref Entry slot = ref _ring[position % _ring.Length];
            if (position > _ring.Length)
            {
                Forget(position - _ring.Length, ref slot);
            }

            long previous = 0;
            if (viewer.IsEmpty)
            {
                _latest[snapshot.User] = position;
            }
            else
            {
                _latestFor.TryGetValue(viewer, out previous);
                _latestFor[viewer] = position;
            }

            slot = new Entry { Snapshot = snapshot, Viewer = viewer, PreviousForViewer = previous, Stamp = stamp };
            Head = position;
        }

        /// <summary>Doubles the ring (up to the capacity), keeping every held position at its place modulo the new length.</summary>
        private void Grow()
        {
            var ring = new Entry[Math.Min(capacity, _ring.Length * 2)];
            for (long position = Oldest; position <= Head; position++)
            {
                ring[position % ring.Length] = _ring[position % _ring.Length];
            }

            _ring = ring;
        }

        public bool TryLatest(UserId user, out long position) => _latest.TryGetValue(user, out position);

        public bool TryLatestFor(UserId viewer, out long position) => _latestFor.TryGetValue(viewer, out position);

        public StreamItem ItemAt(long position, int partition)
        {
            ref Entry e = ref _ring[position % _ring.Length];
            return new StreamItem(e.Snapshot, e.Viewer, partition, position, e.Stamp, e.PreviousForViewer);
        }

        /// <summary>The entry at <paramref name="position"/> leaves the window: the indexes drop it if it was a user's latest.</summary>
        private void Forget(long position, ref Entry old)
        {
            if (old.Viewer.IsEmpty)
            {
                if (_latest.TryGetValue(old.Snapshot.User, out long latest) && latest == position)
                {
                    _latest.Remove(old.Snapshot.User);
                }
            }
            else if (_latestFor.TryGetValue(old.Viewer, out long latest) && latest == position)
            {
                _latestFor.Remove(old.Viewer);
            }

            if (_latest.Count == 0 && _latestFor.Count == 0)
            {
                _latest.TrimExcess();
                _latestFor.TrimExcess();
            }
        }
    }
}

/// <summary>A retained position of the stream.</summary>
internal readonly record struct StreamItem(PresenceSnapshot Snapshot, UserId Viewer, int Partition, long Position, long Stamp, long PreviousForViewer);
