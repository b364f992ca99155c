using Presence.Core.Tests.Core;
using Presence.Internal;
using static Presence.Core.Tests.Interest.RoomCacheScenario;

namespace Presence.Core.Tests.Interest;

/// <summary>What <see cref="RoomCacheDriver"/> checks and how the scenario is played.</summary>
/// <param name="ConcurrentAsks">
/// Whether a user's rooms (a room's members) may be asked for again, or filled, while an earlier answer is still in flight.
/// When false such steps are skipped: one lookup per key at a time.
/// </param>
/// <param name="ServerQuestionForRemoteUserAboutLocalServer">
/// Whether <c>ServerSharesRoom(remote user, local server)</c> is checked too; the engine only asks about local users and
/// other servers.
/// </param>
/// <param name="SizeCountsEntries">
/// Whether <c>Size</c> is expected to count each cached entry as well as its memberships (as documented) rather than
/// the memberships alone.
/// </param>
internal sealed record RoomCacheRules(bool ConcurrentAsks = false, bool ServerQuestionForRemoteUserAboutLocalServer = true, bool SizeCountsEntries = true);

/// <summary>How often the cache answered rather than said "don't know": shows the properties are not vacuous.</summary>
internal sealed class RoomCacheCoverage
{
    public long Steps;
    public long SharesRoomAnswered;
    public long SharesRoomTrue;
    public long ServerSharesRoomAnswered;
    public long CoMembersCollected;
    public long ServersCollected;
    public long RacedFillsRefused;
    public long Evictions;

    private readonly Lock _gate = new();

    /// <summary>Adds one run's counts (runs go on several threads).</summary>
    public void Add(RoomCacheCoverage run)
    {
        lock (_gate)
        {
            Steps += run.Steps;
            SharesRoomAnswered += run.SharesRoomAnswered;
            SharesRoomTrue += run.SharesRoomTrue;
            ServerSharesRoomAnswered += run.ServerSharesRoomAnswered;
            CoMembersCollected += run.CoMembersCollected;
            ServersCollected += run.ServersCollected;
            RacedFillsRefused += run.RacedFillsRefused;
            Evictions += run.Evictions;
        }
    }

    public override string ToString()
        => $"{Steps} steps; answered: SharesRoom {SharesRoomAnswered} ({SharesRoomTrue} true), ServerSharesRoom {ServerSharesRoomAnswered}, "
            + $"TryCollectCoMembers {CoMembersCollected}, TryCollectServers {ServersCollected}; raced fills refused {RacedFillsRefused}; steps that evicted {Evictions}";
}

/// <summary>
/// Plays a <see cref="RoomCacheScenario"/> into a fresh <see cref="RoomCache"/> and a reference model (plain sets of who
/// is in which room). After every step: every entry the cache holds equals the truth; every answer it gives
/// (<c>SharesRoom</c>, <c>ServerSharesRoom</c> when not null, <c>TryCollectCoMembers</c>, <c>TryCollectServers</c> when
/// true, <c>IsComplete</c>) equals the truth; <c>Size</c> stays within the capacity and equals what is cached. The first
/// difference throws <see cref="ModelMismatchException"/>.
/// </summary>
internal sealed class RoomCacheDriver
{
    private readonly RoomCache _cache;
    private readonly RoomCacheRules _rules;
    private readonly RoomCacheCoverage _coverage = new();
    private readonly int _capacity;

    /// <summary>The truth: members of each room (the excluded room too; it shares nothing).</summary>
    private readonly HashSet<UserId>[] _members = [.. Rooms.Select(static _ => new HashSet<UserId>())];

    /// <summary>Answers the host gave and the cache has not received yet, per user and per room.</summary>
    private readonly List<Held<string>>[] _roomAnswers = [.. Users.Select(static _ => new List<Held<string>>())];
    private readonly List<Held<UserId>>[] _memberAnswers = [.. Rooms.Select(static _ => new List<Held<UserId>>())];

    private RoomCacheDriver(int capacity, RoomCacheRules rules)
    {
        _capacity = capacity;
        _rules = rules;
        _cache = new RoomCache(Local, capacity, [Excluded]);
    }

    public static void Run(RoomCacheScenario scenario, RoomCacheRules rules, RoomCacheCoverage? coverage = null)
    {
        var driver = new RoomCacheDriver(scenario.Capacity, rules);
        for (int step = 0; step < scenario.Ops.Length; step++)
        {
            try
            {
                driver.Play(scenario.Ops[step]);
                driver.Verify();
            }
            catch (ModelMismatchException e)
            {
                throw new ModelMismatchException($"After step {step} ({scenario.Ops[step]}): {e.Message}");
            }
        }

        coverage?.Add(driver._coverage);
    }

    /// <summary>Gets the first difference the scenario shows, or null.</summary>
    public static string? FailureOf(RoomCacheScenario scenario, RoomCacheRules rules)
    {
        try
        {
            Run(scenario, rules);
            return null;
        }
        catch (ModelMismatchException e)
        {
            return e.Message;
        }
    }

    private static bool IsExcluded(int room) => Rooms[room] == Excluded;

    private void Play(RoomCacheScenario.Op op)
    {
        var before = CachedKeys();
        switch (op)
        {
            case Join(var u, var r):
                MarkRaced(u, r);
                _members[r].Add(Users[u]);
                Expect(_cache.Joined(Users[u], Rooms[r]) == !IsExcluded(r), $"Joined should return {!IsExcluded(r)}");
                break;
            case Leave(var u, var r):
                MarkRaced(u, r);
                _members[r].Remove(Users[u]);
                Expect(_cache.Left(Users[u], Rooms[r]) == !IsExcluded(r), $"Left should return {!IsExcluded(r)}");
                break;
            case FillRooms(var u, var announced):
                if (_rules.ConcurrentAsks || _roomAnswers[u].Count == 0)
                {
                    long? token = announced ? _cache.FetchingRooms(Users[u]) : null;
                    _cache.CacheRooms(Users[u], RoomsOfNow(u), token);
                }

                break;
            case FillMembers(var r, var announced):
                if (_rules.ConcurrentAsks || _memberAnswers[r].Count == 0)
                {
                    long? token = announced ? _cache.FetchingMembers(Rooms[r]) : null;
                    _cache.CacheMembers(Rooms[r], [.. _members[r]], token);
                }

                break;
            case AskRooms(var u):
                if (_rules.ConcurrentAsks || _roomAnswers[u].Count == 0)
                {
                    long token = _cache.FetchingRooms(Users[u]);
                    _roomAnswers[u].Add(new Held<string>(RoomsOfNow(u), token));
                }

                break;
            case AnswerRooms(var u, var which):
                if (_roomAnswers[u].Count > 0)
                {
                    int k = which % _roomAnswers[u].Count;
                    var held = _roomAnswers[u][k];
                    _roomAnswers[u].RemoveAt(k);
                    var (sizeBefore, cachedBefore) = (_cache.Size, _cache.TryGetRooms(Users[u], out _));
                    _cache.CacheRooms(Users[u], held.Answer, held.Token);
                    if (held.Raced)
                    {
                        _coverage.RacedFillsRefused++;
                        Expect(_cache.Size == sizeBefore && _cache.TryGetRooms(Users[u], out _) == cachedBefore, "a fill raced by a change of the same user was cached");
                    }
                }

                break;
            case AskMembers(var r):
                if (_rules.ConcurrentAsks || _memberAnswers[r].Count == 0)
                {
                    long token = _cache.FetchingMembers(Rooms[r]);
                    _memberAnswers[r].Add(new Held<UserId>([.. _members[r]], token));
                }

                break;
            case AnswerMembers(var r, var which):
                if (_memberAnswers[r].Count > 0)
                {
                    int k = which % _memberAnswers[r].Count;
                    var held = _memberAnswers[r][k];
                    _memberAnswers[r].RemoveAt(k);
                    var (sizeBefore, cachedBefore) = (_cache.Size, _cache.TryGetMembers(Rooms[r], out _));
                    _cache.CacheMembers(Rooms[r], held.Answer, held.Token);
                    if (held.Raced)
                    {
                        _coverage.RacedFillsRefused++;
                        Expect(_cache.Size == sizeBefore && _cache.TryGetMembers(Rooms[r], out _) == cachedBefore, "a fill raced by a change of the same room was cached");
                    }
                }

                break;
            default:
                throw new InvalidOperationException($"Unknown step {op}.");
        }

        _coverage.Steps++;
        if (!before.IsSubsetOf(CachedKeys()))
        {
            _coverage.Evictions++; // nothing but eviction removes an entry
        }
    }

    private HashSet<string> CachedKeys()
        => [.. Users.Where(u => _cache.TryGetRooms(u, out _)).Select(static u => u.ToString()), .. Rooms.Where(r => _cache.TryGetMembers(r, out _))];

    /// <summary>A join or leave races the answers in flight for the user's rooms and for the room's members (not an excluded room: it is never cached).</summary>
    private void MarkRaced(int user, int room)
    {
        if (IsExcluded(room))
        {
            return;
        }

        foreach (var held in _roomAnswers[user])
        {
            held.Raced = true;
        }

        foreach (var held in _memberAnswers[room])
        {
            held.Raced = true;
        }
    }

    /// <summary>An answer of the host held back, and whether a change of its key came after it was asked for.</summary>
    private sealed class Held<T>(T[] answer, long token)
    {
        public T[] Answer { get; } = answer;

        /// <summary>What <c>Fetching…</c> returned when the answer was asked for.</summary>
        public long Token { get; } = token;

        public bool Raced { get; set; }
    }

    /// <summary>The host's answer for a user's rooms, as it stands now: every room, the excluded one included.</summary>
    private string[] RoomsOfNow(int user)
        => [.. Enumerable.Range(0, Rooms.Length).Where(r => _members[r].Contains(Users[user])).Select(static r => Rooms[r])];

    private HashSet<string> TrueRooms(UserId user)
        => [.. Enumerable.Range(0, Rooms.Length).Where(r => !IsExcluded(r) && _members[r].Contains(user)).Select(static r => Rooms[r])];

    private HashSet<UserId> TrueMembers(int room) => IsExcluded(room) ? [] : [.. _members[room]];

    private bool TrueShares(UserId a, UserId b)
        => Enumerable.Range(0, Rooms.Length).Any(r => !IsExcluded(r) && _members[r].Contains(a) && _members[r].Contains(b));

    /// <summary>Some member of <paramref name="server"/> (the user themselves included) is in a non-excluded room with the user.</summary>
    private bool TrueServerShares(UserId user, ServerName server)
        => Enumerable.Range(0, Rooms.Length).Any(r => !IsExcluded(r) && _members[r].Contains(user) && _members[r].Any(m => m.IsOn(server)));

    private HashSet<UserId> TrueCoMembers(UserId user)
    {
        var set = new HashSet<UserId>();
        for (int r = 0; r < Rooms.Length; r++)
        {
            if (!IsExcluded(r) && _members[r].Contains(user))
            {
                set.UnionWith(_members[r]);
            }
        }

        set.Remove(user);
        return set;
    }

    /// <summary>Every server but the local one with a member in a room of the user (the user's own server too, when remote).</summary>
    private HashSet<ServerName> TrueServers(UserId user)
    {
        var set = new HashSet<ServerName>();
        for (int r = 0; r < Rooms.Length; r++)
        {
            if (!IsExcluded(r) && _members[r].Contains(user))
            {
                set.UnionWith(_members[r].Select(static m => m.Server).Where(static s => s != Local));
            }
        }

        return set;
    }

    private void Verify()
    {
        // What is cached is true, and Size accounts for exactly it.
        long memberships = 0;
        int cachedUsers = 0;
        int cachedRooms = 0;
        foreach (var user in Users)
        {
            if (_cache.TryGetRooms(user, out var rooms))
            {
                cachedUsers++;
                memberships += rooms.Length;
                Expect(rooms.Distinct().Count() == rooms.Length && TrueRooms(user).SetEquals(rooms) && rooms.SequenceEqual(rooms.Order(StringComparer.Ordinal)), $"cached rooms of {user} are {{{Show(rooms)}}}, the truth is {{{Show(TrueRooms(user))}}}");
            }
        }

        for (int r = 0; r < Rooms.Length; r++)
        {
            if (_cache.TryGetMembers(Rooms[r], out var members))
            {
                Expect(!IsExcluded(r), $"the excluded room {Rooms[r]} is cached");
                cachedRooms++;
                memberships += members.Count;
                Expect(members.SetEquals(TrueMembers(r)), $"cached members of {Rooms[r]} are {{{Show(members)}}}, the truth is {{{Show(TrueMembers(r))}}}");
            }
        }

        Expect(_cache.CachedUsers == cachedUsers && _cache.CachedRooms == cachedRooms, $"CachedUsers/CachedRooms = {_cache.CachedUsers}/{_cache.CachedRooms}, found {cachedUsers}/{cachedRooms}");
        long expectedSize = _rules.SizeCountsEntries ? memberships + cachedUsers + cachedRooms : memberships;
        Expect(_cache.Size == expectedSize, $"Size = {_cache.Size}, expected {expectedSize} ({memberships} memberships in {cachedUsers} users' and {cachedRooms} rooms' entries)");
        Expect(_cache.Size <= _capacity, $"Size = {_cache.Size} exceeds the capacity {_capacity}");

        // Every answer given equals the truth.
        foreach (var a in Users)
        {
            foreach (var b in Users)
            {
                if (a != b && _cache.SharesRoom(a, b) is { } shares)
                {
                    Count(c => c.SharesRoomAnswered++);
                    Count(c => c.SharesRoomTrue += shares ? 1 : 0);
                    Expect(shares == TrueShares(a, b), $"SharesRoom({a}, {b}) = {shares}, the truth is {TrueShares(a, b)}");
                }
            }

            foreach (var server in Servers)
            {
                if (server == Local && !a.IsOn(Local) && !_rules.ServerQuestionForRemoteUserAboutLocalServer)
                {
                    continue;
                }

                if (_cache.ServerSharesRoom(a, server) is { } there)
                {
                    Count(c => c.ServerSharesRoomAnswered++);
                    Expect(there == TrueServerShares(a, server), $"ServerSharesRoom({a}, {server}) = {there}, the truth is {TrueServerShares(a, server)}");
                }
            }

            var missing = new List<string>();
            bool complete = _cache.IsComplete(a, missing);
            var coMembers = new HashSet<UserId>();
            bool collected = _cache.TryCollectCoMembers(a, coMembers);
            Expect(collected == complete, $"TryCollectCoMembers({a}) = {collected} but IsComplete = {complete}");
            if (collected)
            {
                Count(c => c.CoMembersCollected++);
                Expect(coMembers.SetEquals(TrueCoMembers(a)), $"TryCollectCoMembers({a}) gave {{{Show(coMembers)}}}, the truth is {{{Show(TrueCoMembers(a))}}}");
            }
            else
            {
                Expect(coMembers.Count == 0, $"TryCollectCoMembers({a}) returned false but added {{{Show(coMembers)}}}");
            }

            if (_cache.TryGetRooms(a, out var roomsOfA))
            {
                var notCached = roomsOfA.Where(room => !_cache.TryGetMembers(room, out _)).ToHashSet();
                Expect(notCached.SetEquals(missing), $"IsComplete({a}) listed {{{Show(missing)}}} as missing, not cached are {{{Show(notCached)}}}");
            }

            var servers = new HashSet<ServerName>();
            bool collectedServers = _cache.TryCollectServers(a, servers);
            Expect(collectedServers == complete, $"TryCollectServers({a}) = {collectedServers} but IsComplete = {complete}");
            if (collectedServers)
            {
                Count(c => c.ServersCollected++);
                Expect(servers.SetEquals(TrueServers(a)), $"TryCollectServers({a}) gave {{{Show(servers)}}}, the truth is {{{Show(TrueServers(a))}}}");
            }
            else
            {
                Expect(servers.Count == 0, $"TryCollectServers({a}) returned false but added {{{Show(servers)}}}");
            }
        }
    }

    private void Count(Action<RoomCacheCoverage> count) => count(_coverage);

    private static string Show<T>(IEnumerable<T> items) => string.Join(", ", items.Select(static i => i!.ToString()).Order(StringComparer.Ordinal));

    private static void Expect(bool condition, string message)
    {
        if (!condition)
        {
            throw new ModelMismatchException(message);
        }
    }
}
