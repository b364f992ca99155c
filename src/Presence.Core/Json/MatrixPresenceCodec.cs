using System.Text.Json;
using Presence.Json;

namespace Presence;

/// <summary>
/// Reads and writes the Matrix JSON of presence: the client <c>m.presence</c> event, the bodies of
/// <c>/_matrix/client/v3/presence/{userId}/status</c>, error bodies, and federation transactions carrying the
/// <c>m.presence</c> EDU (<c>push</c>, <c>poll</c>, <c>unpoll</c>) and the presence-list EDUs. Writing is strict: every
/// document validates against the specification's schemas (busy uses MSC3026's <c>org.matrix.msc3026.busy</c>, which
/// extends the enum). Reading is tolerant where real servers differ and strict where it matters; it throws only
/// <see cref="PresenceFormatException"/>.
/// </summary>
/// <remarks>
/// Two extension keys ride in the <c>m.presence</c> EDU's content, namespaced so a peer that does not know them
/// ignores them: <see cref="ReminderKey"/> (<c>true</c> on a watchdog reminder) and <see cref="PromiseLifetimeKey"/>
/// (the sender's promise lifetime in milliseconds). Two more ride in the client event's content, which a client that does
/// not know them ignores: <see cref="UnknownKey"/> (<c>true</c> when the server holds no information about the user — the
/// event then says <c>offline</c>, what the specification can express) and <see cref="DeviceKindsKey"/> (the kinds of the
/// user's connected devices).
/// </remarks>
public static class MatrixPresenceCodec
{
    /// <summary>The extension key marking a watchdog reminder.</summary>
    public const string ReminderKey = "io.presence_core.reminder";

    /// <summary>The extension key carrying the promise lifetime, in milliseconds.</summary>
    public const string PromiseLifetimeKey = "io.presence_core.promise_lifetime_ms";

    /// <summary>
    /// The client event's extension key marking a user the server holds no information about (a remote user whose server
    /// went silent, or one the viewer can no longer see): <c>true</c>, with <c>"presence": "offline"</c> beside it.
    /// </summary>
    public const string UnknownKey = "io.presence_core.unknown";

    /// <summary>
    /// The client event's extension key listing the kinds of the user's connected devices (<c>"standard"</c>,
    /// <c>"mobile"</c>, <c>"web"</c>, <c>"limited"</c>); present only when a device is connected.
    /// </summary>
    public const string DeviceKindsKey = "io.presence_core.device_kinds";

    /// <summary>The largest document read, in bytes.</summary>
    public const int MaxDocumentBytes = 1 << 20;

    /// <summary>The deepest nesting read.</summary>
    public const int MaxDepth = 16;

    /// <summary>The most items read from one array (push, poll, unpoll, EDUs).</summary>
    public const int MaxArrayItems = 1000;

    /// <summary>The longest status message read, in UTF-16 code units.</summary>
    public const int MaxStatusMessageLength = 4096;

    /// <summary>A <c>last_active_ago</c> written when the last-active time is unknown (the schema requires one): about 50 years.</summary>
    private const long UnknownLastActiveAgoMs = 50L * 365 * 24 * 60 * 60 * 1000;

    /// <summary>
    /// Writes the client <c>m.presence</c> event. An unknown user is written as <c>offline</c> with <see cref="UnknownKey"/>;
    /// connected device kinds go in <see cref="DeviceKindsKey"/>.
    /// </summary>
    /// <param name="presence">The presence.</param>
    /// <param name="now">The time <c>last_active_ago</c> is computed at.</param>
    /// <returns>The JSON text.</returns>
    public static string WriteClientEvent(PresenceSnapshot presence, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(presence);
        return JsonSerializer.Serialize(ClientEvent(presence, now), PresenceJsonContext.Default.ClientEventDto);
    }

    /// <summary>Writes the client <c>m.presence</c> event into the host's writer, as <see cref="WriteClientEvent(PresenceSnapshot, DateTimeOffset)"/>.</summary>
    /// <param name="writer">Where the event (one JSON object) goes.</param>
    /// <param name="presence">The presence.</param>
    /// <param name="now">The time <c>last_active_ago</c> is computed at.</param>
    public static void WriteClientEvent(Utf8JsonWriter writer, PresenceSnapshot presence, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(presence);
        JsonSerializer.Serialize(writer, ClientEvent(presence, now), PresenceJsonContext.Default.ClientEventDto);
    }

    /// <summary>
    /// Writes the value of a <c>/sync</c> response's <c>presence</c> key — <c>{"events":[...]}</c>, one <c>m.presence</c>
    /// event per change (for example <see cref="PresenceChanges.Changes"/>) — into the host's writer. Write the property
    /// name first (<c>writer.WritePropertyName("presence")</c>).
    /// </summary>
    /// <param name="writer">Where the object goes.</param>
    /// <param name="changes">The users' presence.</param>
    /// <param name="now">The time <c>last_active_ago</c> is computed at.</param>
    public static void WriteSyncPresence(Utf8JsonWriter writer, IReadOnlyList<PresenceSnapshot> changes, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(changes);
        writer.WriteStartObject();
        writer.WriteStartArray("events");
        foreach (var presence in changes)
        {
            ArgumentNullException.ThrowIfNull(presence, nameof(changes));
            JsonSerializer.Serialize(writer, ClientEvent(presence, now), PresenceJsonContext.Default.ClientEventDto);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static ClientEventDto ClientEvent(PresenceSnapshot presence, DateTimeOffset now) => new()
    {
        Type = "m.presence",
        Sender = presence.User.Value,
        Content = presence.IsUnknown
            ? new ClientPresenceContentDto { Presence = PresenceStateNames.Offline, Unknown = true }
            : new ClientPresenceContentDto
            {
                Presence = PresenceStateNames.ToWireName(presence.State),
                LastActiveAgo = presence.GetLastActiveAgo(now) is { } ago ? (long)ago.TotalMilliseconds : null,
                CurrentlyActive = presence.State == PresenceState.Online ? presence.CurrentlyActive : null,
                StatusMsg = presence.StatusMessage,
                DeviceKinds = KindNames(presence.DeviceKinds),
            },
    };

    private static readonly (DeviceKinds Kind, string Name)[] KindsByName =
        [(DeviceKinds.Standard, "standard"), (DeviceKinds.Mobile, "mobile"), (DeviceKinds.Web, "web"), (DeviceKinds.Limited, "limited")];

    private static List<string?>? KindNames(DeviceKinds kinds)
    {
        List<string?>? names = null;
        foreach (var (kind, name) in KindsByName)
        {
            if ((kinds & kind) != 0)
            {
                (names ??= []).Add(name);
            }
        }

        return names;
    }

    /// <summary>Device kinds from their names; names this version does not know are ignored (a newer sender may add kinds).</summary>
    private static DeviceKinds ParseKinds(List<string?>? names, string path)
    {
        var kinds = DeviceKinds.None;
        if (names is null)
        {
            return kinds;
        }

        CheckCount(names.Count, path);
        foreach (var name in names)
        {
            foreach (var (kind, known) in KindsByName)
            {
                if (string.Equals(name, known, StringComparison.Ordinal))
                {
                    kinds |= kind;
                }
            }
        }

        return kinds;
    }

    /// <summary>Writes the 200 body of <c>GET /_matrix/client/v3/presence/{userId}/status</c>.</summary>
    /// <param name="presence">The presence; not unknown.</param>
    /// <param name="now">The time <c>last_active_ago</c> is computed at.</param>
    /// <returns>The JSON text.</returns>
    public static string WriteStatusResponse(PresenceSnapshot presence, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(presence);
        return JsonSerializer.Serialize(Content(presence, now), PresenceJsonContext.Default.PresenceContentDto);
    }

    /// <summary>Reads the body of <c>PUT /_matrix/client/v3/presence/{userId}/status</c>.</summary>
    /// <param name="json">The body.</param>
    /// <returns>The requested state and status message (<see langword="null"/> when absent or empty).</returns>
    /// <exception cref="PresenceFormatException">The body is not a valid request; the message says why.</exception>
    public static (PresenceState State, string? StatusMessage) ReadStatusRequest(ReadOnlySpan<byte> json)
    {
        var dto = Deserialize(json, PresenceJsonContext.Default.StatusRequestDto, "status request");
        var state = ParseState(dto.Presence, "presence");
        return (state, CheckStatus(dto.StatusMsg, "status_msg"));
    }

    /// <summary>
    /// Reads a client <c>m.presence</c> event (tolerant of the legacy <c>user_id</c> inside the content and a missing
    /// <c>last_active_ago</c>). <see cref="UnknownKey"/> gives <see cref="PresenceState.Unknown"/>; <see cref="DeviceKindsKey"/>
    /// gives the device kinds.
    /// </summary>
    /// <param name="json">The event.</param>
    /// <param name="now">The time <c>last_active_ago</c> counts back from.</param>
    /// <returns>The presence.</returns>
    /// <exception cref="PresenceFormatException">The event is not valid; the message says why.</exception>
    public static PresenceSnapshot ReadClientEvent(ReadOnlySpan<byte> json, DateTimeOffset now)
    {
        var dto = Deserialize(json, PresenceJsonContext.Default.ClientEventDto, "presence event");
        if (dto.Type is not null && dto.Type != "m.presence")
        {
            throw new PresenceFormatException($"type: expected \"m.presence\", got \"{dto.Type}\".");
        }

        var content = dto.Content ?? throw new PresenceFormatException("content: required.");
        var user = ParseUser(dto.Sender ?? content.UserId, dto.Sender is null ? "content.user_id" : "sender");
        var read = Snapshot(user, content.Presence, content.LastActiveAgo, content.CurrentlyActive, content.StatusMsg, now, "content");
        if (content.Unknown == true)
        {
            return PresenceSnapshot.Unknown(user); // "offline" is only what the specification can say
        }

        var kinds = ParseKinds(content.DeviceKinds, "content." + DeviceKindsKey);
        return kinds == DeviceKinds.None ? read : new PresenceSnapshot(user, read.State, read.StatusMessage, read.LastActive, read.CurrentlyActive, kinds);
    }

    /// <summary>Writes a client-server error body.</summary>
    /// <param name="errcode">The error code, <c>M_</c>-prefixed (for example <c>M_FORBIDDEN</c>).</param>
    /// <param name="message">A human-readable message.</param>
    /// <returns>The JSON text.</returns>
    public static string WriteError(string errcode, string message)
    {
        ArgumentException.ThrowIfNullOrEmpty(errcode);
        ArgumentNullException.ThrowIfNull(message);
        return JsonSerializer.Serialize(new ErrorDto { Errcode = errcode, Error = message }, PresenceJsonContext.Default.ErrorDto);
    }

    /// <summary>Writes the 429 body: <c>M_LIMIT_EXCEEDED</c> with <c>retry_after_ms</c>.</summary>
    /// <param name="message">A human-readable message.</param>
    /// <param name="retryAfter">How long the client should wait; rounded up to whole milliseconds, so a client that waits that long is not refused again.</param>
    /// <returns>The JSON text.</returns>
    public static string WriteRateLimited(string message, TimeSpan retryAfter)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfLessThan(retryAfter, TimeSpan.Zero);
        var dto = new ErrorDto { Errcode = "M_LIMIT_EXCEEDED", Error = message, RetryAfterMs = (long)Math.Ceiling(retryAfter.TotalMilliseconds) };
        return JsonSerializer.Serialize(dto, PresenceJsonContext.Default.ErrorDto);
    }

    /// <summary>Writes a federation transaction (<c>PUT /_matrix/federation/v1/send/{txnId}</c> body) carrying the message's EDUs.</summary>
    /// <param name="origin">The sending server.</param>
    /// <param name="now">The transaction's <c>origin_server_ts</c>, and the time <c>last_active_ago</c> is computed at.</param>
    /// <param name="message">The message.</param>
    /// <returns>The JSON text.</returns>
    public static string WriteTransaction(ServerName origin, DateTimeOffset now, PresenceMessage message)
    {
        if (origin.IsEmpty)
        {
            throw new ArgumentException("The origin server is required.", nameof(origin));
        }

        ArgumentNullException.ThrowIfNull(message);
        var dto = new TransactionDto { Origin = origin.Value, OriginServerTs = now.ToUnixTimeMilliseconds(), Pdus = [], Edus = WriteEdus(message, now) };
        return JsonSerializer.Serialize(dto, PresenceJsonContext.Default.TransactionDto);
    }

    /// <summary>
    /// Reads the presence EDUs of a federation transaction. Other EDUs and the PDUs are ignored. An entry that cannot
    /// be used (a bad user ID, an unknown state, an over-long status) is left out and described in
    /// <see cref="ReceivedTransaction.Problems"/>; a document that is malformed, mistyped, too deep or too large is
    /// rejected whole.
    /// </summary>
    /// <param name="json">The transaction body.</param>
    /// <param name="now">The time <c>last_active_ago</c> counts back from.</param>
    /// <returns>The origin, the presence message and what was left out.</returns>
    /// <exception cref="PresenceFormatException">The document is not a valid transaction; the message says why.</exception>
    public static ReceivedTransaction ReadTransaction(ReadOnlySpan<byte> json, DateTimeOffset now)
    {
        var dto = Deserialize(json, PresenceJsonContext.Default.TransactionDto, "transaction");
        if (!ServerName.TryParse(dto.Origin, out var origin, out var originError))
        {
            throw new PresenceFormatException($"origin: {originError}");
        }

        var edus = dto.Edus ?? [];
        CheckCount(edus.Count, "edus");
        var push = new List<PresenceSnapshot>();
        var poll = new List<UserId>();
        var unpoll = new List<UserId>();
        var lists = new List<PresenceListRequest>();
        var problems = new List<string>();
        bool reminder = false;
        TimeSpan? lifetime = null;
        for (int i = 0; i < edus.Count; i++)
        {
            var edu = edus[i];
            string path = $"edus[{i}]";
            switch (edu?.EduType)
            {
                case "m.presence":
                    var content = DeserializeElement(edu.Content, PresenceJsonContext.Default.PresenceEduContentDto, path + ".content");
                    ReadPresenceContent(content, now, path + ".content", push, poll, unpoll, problems);
                    reminder |= content.Reminder == true;
                    if (content.PromiseLifetimeMs is > 0 and <= 365L * 24 * 60 * 60 * 1000 and var ms)
                    {
                        lifetime = TimeSpan.FromMilliseconds(ms);
                    }

                    break;
                case "m.presence_invite" or "m.presence_accept" or "m.presence_deny":
                    var list = DeserializeElement(edu.Content, PresenceJsonContext.Default.ListEduContentDto, path + ".content");
                    if (UserId.TryParse(list.ObserverUser, out var observer, out var e1) && UserId.TryParse(list.ObservedUser, out var observed, out var e2) && observer != observed)
                    {
                        var action = edu.EduType switch
                        {
                            "m.presence_invite" => PresenceListAction.Invite,
                            "m.presence_accept" => PresenceListAction.Accept,
                            _ => PresenceListAction.Deny,
                        };
                        lists.Add(new PresenceListRequest(action, observer, observed));
                    }
                    else
                    {
                        problems.Add($"{path}.content: observer_user and observed_user must be two valid user IDs.");
                    }

                    break;
                case null:
                    problems.Add($"{path}: edu_type is required.");
                    break;
                default:
                    break; // typing, receipts, device lists: not ours
            }
        }

        CheckCount(push.Count + poll.Count + unpoll.Count + lists.Count, "presence entries in all");
        var message = new PresenceMessage(push, poll, unpoll, reminder, lifetime, lists);
        return new ReceivedTransaction(origin, message, problems);
    }

    private static List<EduDto?> WriteEdus(PresenceMessage message, DateTimeOffset now)
    {
        var edus = new List<EduDto?>();
        if (message.Push.Count > 0 || message.Poll.Count > 0 || message.Unpoll.Count > 0 || message.IsReminder)
        {
            var content = new PresenceEduContentDto
            {
                Push = [.. message.Push.Select(p => PushEntry(p, now))],
                Poll = message.Poll.Count > 0 ? [.. message.Poll.Select(static u => u.Value)] : null,
                Unpoll = message.Unpoll.Count > 0 ? [.. message.Unpoll.Select(static u => u.Value)] : null,
                Reminder = message.IsReminder ? true : null,
                PromiseLifetimeMs = message.PromiseLifetime is { } lifetime ? (long)lifetime.TotalMilliseconds : null,
            };
            edus.Add(new EduDto { EduType = "m.presence", Content = JsonSerializer.SerializeToElement(content, PresenceJsonContext.Default.PresenceEduContentDto) });
        }

        foreach (var request in message.ListRequests)
        {
            string type = request.Action switch
            {
                PresenceListAction.Invite => "m.presence_invite",
                PresenceListAction.Accept => "m.presence_accept",
                _ => "m.presence_deny",
            };
            var content = new ListEduContentDto { ObserverUser = request.Observer.Value, ObservedUser = request.Observed.Value };
            edus.Add(new EduDto { EduType = type, Content = JsonSerializer.SerializeToElement(content, PresenceJsonContext.Default.ListEduContentDto) });
        }

        return edus;
    }

    /// <summary>A push entry: the content plus the user, and a <c>last_active_ago</c> always (the schema requires it).</summary>
    private static PresenceContentDto PushEntry(PresenceSnapshot presence, DateTimeOffset now)
    {
        var entry = Content(presence, now);
        entry.UserId = presence.User.Value;
        entry.LastActiveAgo ??= UnknownLastActiveAgoMs;
        return entry;
    }

    private static PresenceContentDto Content(PresenceSnapshot presence, DateTimeOffset now) => new()
    {
        Presence = WireState(presence),
        LastActiveAgo = presence.GetLastActiveAgo(now) is { } ago ? (long)ago.TotalMilliseconds : null,
        CurrentlyActive = presence.State == PresenceState.Online ? presence.CurrentlyActive : null,
        StatusMsg = presence.StatusMessage,
    };

    private static string WireState(PresenceSnapshot presence)
        => presence.IsUnknown
            ? throw new ArgumentException($"{presence.User}'s presence is unknown; there is nothing to write.", nameof(presence))
            : PresenceStateNames.ToWireName(presence.State);

    private static void ReadPresenceContent(PresenceEduContentDto content, DateTimeOffset now, string path, List<PresenceSnapshot> push, List<UserId> poll, List<UserId> unpoll, List<string> problems)
    {
        var entries = content.Push ?? [];
        CheckCount(entries.Count, path + ".push");
        for (int i = 0; i < entries.Count; i++)
        {
            string at = $"{path}.push[{i}]";
            var entry = entries[i];
            try
            {
                if (entry is null)
                {
                    throw new PresenceFormatException($"{at}: must be an object.");
                }

                var user = ParseUser(entry.UserId, at + ".user_id");
                push.Add(Snapshot(user, entry.Presence, entry.LastActiveAgo, entry.CurrentlyActive, entry.StatusMsg, now, at));
            }
            catch (PresenceFormatException ex)
            {
                problems.Add(ex.Message); // one bad entry does not spoil the rest
            }
        }

        ReadUsers(content.Poll, path + ".poll", poll, problems);
        ReadUsers(content.Unpoll, path + ".unpoll", unpoll, problems);
    }

    private static void ReadUsers(List<string?>? users, string path, List<UserId> into, List<string> problems)
    {
        if (users is null)
        {
            return;
        }

        CheckCount(users.Count, path);
        for (int i = 0; i < users.Count; i++)
        {
            if (UserId.TryParse(users[i], out var user, out var error))
            {
                into.Add(user);
            }
            else
            {
                problems.Add($"{path}[{i}]: {error}");
            }
        }
    }

    private static PresenceSnapshot Snapshot(UserId user, string? presence, long? lastActiveAgo, bool? currentlyActive, string? status, DateTimeOffset now, string path)
    {
        var state = ParseState(presence, path + ".presence");
        DateTimeOffset? lastActive = null;
        if (lastActiveAgo is { } ago)
        {
            if (ago < 0)
            {
                throw new PresenceFormatException($"{path}.last_active_ago: must not be negative (got {ago}).");
            }

            // Beyond ten years is "unknown" (what this codec writes when it has none).
            lastActive = ago > 10L * 365 * 24 * 60 * 60 * 1000 ? null : now - TimeSpan.FromMilliseconds(ago);
        }

        return new PresenceSnapshot(user, state, CheckStatus(status, path + ".status_msg"), lastActive, currentlyActive == true, DeviceKinds.None);
    }

    private static PresenceState ParseState(string? presence, string path)
    {
        if (presence is null)
        {
            throw new PresenceFormatException($"{path}: required.");
        }

        return PresenceStateNames.TryParse(presence, out var state)
            ? state
            : throw new PresenceFormatException($"{path}: \"{Truncate(presence)}\" is not a presence state (online, unavailable, offline, {PresenceStateNames.Busy}).");
    }

    private static UserId ParseUser(string? value, string path)
        => UserId.TryParse(value, out var user, out var error) ? user : throw new PresenceFormatException($"{path}: {error}");

    private static string? CheckStatus(string? status, string path)
    {
        if (status is { Length: > MaxStatusMessageLength })
        {
            throw new PresenceFormatException($"{path}: {status.Length} characters; at most {MaxStatusMessageLength} are read.");
        }

        return string.IsNullOrEmpty(status) ? null : status;
    }

    private static void CheckCount(int count, string path)
    {
        if (count > MaxArrayItems)
        {
            throw new PresenceFormatException($"{path}: {count} items; at most {MaxArrayItems} are read.");
        }
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";

    private static T Deserialize<T>(ReadOnlySpan<byte> json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string what)
        where T : class
    {
        if (json.Length > MaxDocumentBytes)
        {
            throw new PresenceFormatException($"The {what} is {json.Length} bytes; at most {MaxDocumentBytes} are read.");
        }

        try
        {
            return JsonSerializer.Deserialize(json, type) ?? throw new PresenceFormatException($"The {what} must be a JSON object, not null.");
        }
        catch (JsonException ex)
        {
            throw new PresenceFormatException($"The {what} is not valid: {ex.Message}", ex);
        }
    }

    private static T DeserializeElement<T>(JsonElement element, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string path)
        where T : class
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new PresenceFormatException($"{path}: must be an object.");
        }

        try
        {
            return element.Deserialize(type) ?? throw new PresenceFormatException($"{path}: must be an object.");
        }
        catch (JsonException ex)
        {
            throw new PresenceFormatException($"{path}: {ex.Message}", ex);
        }
    }
}

/// <summary>The presence part of a federation transaction, as read by <see cref="MatrixPresenceCodec.ReadTransaction"/>.</summary>
public sealed class ReceivedTransaction
{
    /// <summary>Creates the result.</summary>
    /// <param name="origin">The sending server the transaction names (authenticate it before trusting it).</param>
    /// <param name="message">The presence message for <see cref="IPresenceEngine.ReceiveAsync"/>.</param>
    /// <param name="problems">Entries left out, and why.</param>
    public ReceivedTransaction(ServerName origin, PresenceMessage message, IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(problems);
        Origin = origin;
        Message = message;
        Problems = problems;
    }

    /// <summary>Gets the sending server the transaction names.</summary>
    public ServerName Origin { get; }

    /// <summary>Gets the presence message.</summary>
    public PresenceMessage Message { get; }

    /// <summary>Gets what was left out and why (empty when everything was read).</summary>
    public IReadOnlyList<string> Problems { get; }
}
