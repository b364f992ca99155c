using System.Numerics;

namespace Presence.Internal;

/// <summary>Tells an <see cref="OpenIndex"/> whether the slot it found holds the key looked for.</summary>
internal interface IIndexKeys<in TKey>
{
    bool Matches(int slot, TKey key);
}

/// <summary>
/// An open-addressing index from a key's hash to a slot number in the owner's own array: each entry is
/// (hash &lt;&lt; 32) | (slot + 1), 0 when empty, linear probing, at most half full. One array read per lookup instead
/// of a dictionary's two, and 16–32 bytes per key. Removal shifts later entries of the probe run back (no tombstones).
/// Not thread-safe.
/// </summary>
internal struct OpenIndex
{
    private const int MinCapacity = 16;
    private long[] _table;
    private int _count;

    public OpenIndex(int expected) => _table = new long[Math.Max(MinCapacity, (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(expected, 1) * 2))];

    /// <summary>Finds the slot of <paramref name="key"/>; <paramref name="keys"/> is a struct so the check inlines.</summary>
    public readonly bool TryFind<TKey, TKeys>(TKey key, int hash, TKeys keys, out int slot)
        where TKeys : struct, IIndexKeys<TKey>
    {
        long[] table = _table;
        int mask = table.Length - 1;
        for (int position = hash & mask; ; position = (position + 1) & mask)
        {
            long entry = table[position];
            if (entry == 0)
            {
                slot = -1;
                return false;
            }

            if ((int)(entry >> 32) == hash)
            {
                slot = (int)(uint)entry - 1;
                if (keys.Matches(slot, key))
                {
                    return true;
                }
            }
        }
    }

    /// <summary>Adds a key's slot; the caller has checked the key is absent.</summary>
    public void Add(int hash, int slot)
    {
        if ((_count + 1) * 2 > _table.Length)
        {
            var bigger = new long[_table.Length * 2];
            foreach (long entry in _table)
            {
                if (entry != 0)
                {
                    Insert(bigger, entry);
                }
            }

            _table = bigger;
        }

        Insert(_table, ((long)hash << 32) | (uint)(slot + 1));
        _count++;
    }

    /// <summary>Removes the entry of <paramref name="slot"/> (found by its <paramref name="hash"/>); false when absent.</summary>
    public bool Remove(int hash, int slot)
    {
        long[] table = _table;
        int mask = table.Length - 1;
        long wanted = ((long)hash << 32) | (uint)(slot + 1);
        int position = hash & mask;
        while (table[position] != wanted)
        {
            if (table[position] == 0)
            {
                return false;
            }

            position = (position + 1) & mask;
        }

        // Backward-shift deletion: move each later entry of the run into the hole when its home allows it.
        int hole = position;
        for (int next = (hole + 1) & mask; table[next] != 0; next = (next + 1) & mask)
        {
            int home = (int)(table[next] >> 32) & mask;
            bool movable = hole <= next ? home <= hole || home > next : home <= hole && home > next;
            if (movable)
            {
                table[hole] = table[next];
                hole = next;
            }
        }

        table[hole] = 0;
        _count--;
        return true;
    }

    private static void Insert(long[] table, long entry)
    {
        int mask = table.Length - 1;
        int position = (int)(entry >> 32) & mask;
        while (table[position] != 0)
        {
            position = (position + 1) & mask;
        }

        table[position] = entry;
    }
}
