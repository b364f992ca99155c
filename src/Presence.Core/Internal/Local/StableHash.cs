using System.Runtime.InteropServices;

namespace Presence.Internal;

/// <summary>
/// A deterministic hash of a user ID: the same in every process and on every run (unlike <see cref="string.GetHashCode()"/>),
/// so a user's shard is a property of the ID alone and the same placement can be reproduced elsewhere (another machine, a
/// scale-out host). Reads four characters per step; one hash serves both the shard (high bits) and the shard's index (low bits).
/// </summary>
internal static class StableHash
{
    public static int Of(UserId user) => Of(user.Value);

    public static int Of(string value)
    {
        ReadOnlySpan<char> chars = value;
        ulong h = 0x9E3779B97F4A7C15UL ^ (ulong)chars.Length;
        var words = MemoryMarshal.Cast<char, ulong>(chars);
        foreach (ulong word in words)
        {
            h = (h ^ word) * 0xBF58476D1CE4E5B9UL;
            h ^= h >> 31;
        }

        for (int i = words.Length * 4; i < chars.Length; i++)
        {
            h = (h ^ chars[i]) * 0x94D049BB133111EBUL;
        }

        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        return (int)h;
    }

    /// <summary>Maps a hash to one of <paramref name="count"/> shards using its high bits (the index uses the low ones).</summary>
    public static int ShardOf(int hash, int count) => (int)(((ulong)(uint)hash * (uint)count) >> 32);
}
