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
/// Extension keys ride in the <c>m.presence</c> EDU, namespaced so a peer that does not know them ignores them:
/// <see cref="ReminderKey"/> (<c>true</c> on a watchdog reminder), <see cref="PromiseLifetimeKey"/> (the sender's promise
/// lifetime in milliseconds) and <see cref="SequenceKey"/> (the message's ordering key) in the content, and
/// <see cref="DeviceKindsKey"/> (the user's device kinds) in each push entry.
/// A host with its own transactions reads and writes single EDUs (<see cref="TryReadEdu"/>, <see cref="WriteEdus(Utf8JsonWriter, PresenceMessage, DateTimeOffset)"/>);
/// the limits (depth, counts, lengths) apply to presence content only, never to the host's room events.
/// </remarks>
public static class MatrixPresenceCodec
{
    /// <summary>The extension key carrying a message's ordering key: monotonic per sending server; a receiver never applies an older state over a newer one.</summary>
    public const string SequenceKey = "io.presence_core.seq";

    /// <summary>
    /// The extension key of a push entry (and a client event's content) carrying the kinds of the user's connected
    /// devices: an array of <c>"standard"</c>, <c>"mobile"</c>, <c>"web"</c>, <c>"limited"</c>; unknown names are ignored.
    /// </summary>
    public const string DeviceKindsKey = "io.presence_core.device_kinds";

    /// <summary>The deepest nesting of a whole transaction read (room events may nest deeper than presence content may).</summary>
    private const int MaxTransactionDepth = 4096;

    /// <summary>The extension key marking a watchdog reminder.</summary>
    public const string ReminderKey = "io.presence_core.reminder";

    /// <summary>The extension key carrying the promise lifetime, in milliseconds.</summary>
    public const string PromiseLifetimeKey = "io.presence_core.promise_lifetime_ms";

    /// <summary>The largest document read (a client body, or one EDU's presence content: never the host's room events), in bytes.</summary>
    public const int MaxDocumentBytes = 1 << 20;

    /// <summary>The deepest nesting read.</summary>
    public const int MaxDepth = 16;

    /// <summary>The most items read from one array (push, poll, unpoll, EDUs).</summary>
    public const int MaxArrayItems = 1000;

    /// <summary>The longest status message read, in UTF-16 code units.</summary>
    public const int MaxStatusMessageLength = 4096;

    /// <summary>A <c>last_active_ago</c> written when the last-active time is unknown (the schema requires one): about 50 years.</summary>
    private const long UnknownLastActiveAgoMs = 50L * 365 * 24 * 60 * 60 * 1000;

    /// <summary>Writes the client <c>m.presence</c> event.</summary>
    /// <param name="presence">The presence; not unknown.</param>
    /// <param name="now">The time <c>last_active_ago</c> is computed at.</param>
    /// <returns>The JSON text.</returns>
    public static string WriteClientEvent(PresenceSnapshot presence, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(presence);
        var dto = new ClientEventDto { Type = "m.presence", Sender = presence.User.Value, Content = Content(presence, now) };
        return JsonSerializer.Serialize(dto, PresenceJsonContext.Default.ClientEventDto);
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

    /// <summary>Reads a client <c>m.presence</c> event (tolerant of the legacy <c>user_id</c> inside the content and a missing <c>last_active_ago</c>).</summary>
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
        return Snapshot(user, content.Presence, content.LastActiveAgo, content.CurrentlyActive, content.StatusMsg, now, "content");
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
    /// <param name="retryAfter">How long the client should wait.</param>
    /// <returns>The JSON text.</returns>
    public static string WriteRateLimited(string message, TimeSpan retryAfter)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfLessThan(retryAfter, TimeSpan.Zero);
        var dto = new ErrorDto { Errcode = "M_LIMIT_EXCEEDED", Error = message, RetryAfterMs = (long)retryAfter.TotalMilliseconds };
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
        var dto = new TransactionDto { Origin = origin.Value, OriginServerTs = now.ToUnixTimeMilliseconds(), Pdus = [], Edus = ToEdus(message, now) };
        // WriteEdus(Utf8JsonWriter…) writes the same EDUs into a host's own transaction.
        return JsonSerializer.Serialize(dto, PresenceJsonContext.Default.TransactionDto);
    }

    /// <summary>
    /// Reads the presence EDUs of a federation transaction. Other EDUs and the PDUs are skipped, however large or deep (the
    /// host's room traffic is never refused for presence's sake). An entry that cannot be used (a bad user ID, an unknown
    /// state, an over-long status) is left out and described in <see cref="ReceivedTransaction.Problems"/>; a transaction
    /// that is not JSON, or presence content that is mistyped or too deep, is rejected whole.
    /// </summary>
    /// <param name="json">The transaction body.</param>
    /// <param name="now">The time <c>last_active_ago</c> counts back from.</param>
    /// <returns>The origin, the presence message and what was left out.</returns>
    /// <exception cref="PresenceFormatException">The document is not a valid transaction; the message says why.</exception>
    public static ReceivedTransaction ReadTransaction(ReadOnlySpan<byte> json, DateTimeOffset now)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxTransactionDepth });
        string? originName = null;
        var messages = new List<PresenceMessage>();
        var problems = new List<string>();
        int presenceEdus = 0;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new PresenceFormatException("The transaction must be a JSON object.");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("origin"u8))
                {
                    reader.Read();
                    originName = reader.TokenType == JsonTokenType.String ? reader.GetString() : throw new PresenceFormatException("origin: must be a string.");
                }
                else if (reader.ValueTextEquals("edus"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        continue;
                    }

                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        throw new PresenceFormatException("edus: must be an array.");
                    }

                    for (int i = 0; reader.Read() && reader.TokenType != JsonTokenType.EndArray; i++)
                    {
                        string path = $"edus[{i}]";
                        if (reader.TokenType != JsonTokenType.StartObject)
                        {
                            reader.Skip();
                            problems.Add($"{path}: must be an object.");
                            continue;
                        }

                        using var edu = JsonDocument.ParseValue(ref reader);
                        var root = edu.RootElement;
                        string? type = root.TryGetProperty("edu_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                        if (type is null)
                        {
                            problems.Add($"{path}: edu_type is required.");
                            continue;
                        }

                        if (!IsPresenceEdu(type))
                        {
                            continue; // typing, receipts, device lists: not ours
                        }

                        if (++presenceEdus > MaxArrayItems)
                        {
                            problems.Add($"{path}: more than {MaxArrayItems} presence EDUs; the rest are not read.");
                            continue;
                        }

                        root.TryGetProperty("content", out var content);
                        if (TryReadEduCore(type, content, now, path + ".content", problems) is { } message)
                        {
                            messages.Add(message);
                        }
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip(); // pdus and anything else: the host's, not ours
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new PresenceFormatException($"The transaction is not valid: {ex.Message}", ex);
        }

        if (!ServerName.TryParse(originName, out var origin, out var originError))
        {
            throw new PresenceFormatException($"origin: {originError}");
        }

        var merged = Merge(messages);
        CheckCount(merged.EntryCount, "presence entries in all");
        return new ReceivedTransaction(origin, merged, problems);
    }

    /// <summary>
    /// Reads one EDU of the host's transaction: <c>m.presence</c> or a presence-list EDU becomes a message for
    /// <see cref="IPresenceEngine.ReceiveAsync"/>; any other type is not presence's. The limits apply to this content only.
    /// </summary>
    /// <param name="eduType">The EDU's <c>edu_type</c>.</param>
    /// <param name="content">The EDU's <c>content</c>.</param>
    /// <param name="now">The time <c>last_active_ago</c> counts back from.</param>
    /// <param name="message">The presence message, when the EDU is presence's.</param>
    /// <param name="problems">Collects entries left out and why; <see langword="null"/> to ignore them.</param>
    /// <returns>Whether the EDU is a presence EDU.</returns>
    /// <exception cref="PresenceFormatException">The presence content is mistyped, too deep or has too many entries.</exception>
    public static bool TryReadEdu(string? eduType, JsonElement content, DateTimeOffset now, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PresenceMessage? message, IList<string>? problems = null)
    {
        message = eduType is not null && IsPresenceEdu(eduType) ? TryReadEduCore(eduType, content, now, "content", problems ?? []) : null;
        return message is not null;
    }

    /// <summary>
    /// Writes a message's EDUs (<c>{"edu_type":…,"content":…}</c> objects) into the host's open <c>edus</c> array: at most one
    /// <c>m.presence</c> EDU and one EDU per presence-list request.
    /// </summary>
    /// <param name="writer">The host's writer, positioned inside the <c>edus</c> array.</param>
    /// <param name="message">The message (for example one of <see cref="PresenceOutboxBatch.Messages"/>).</param>
    /// <param name="now">The time <c>last_active_ago</c> is computed at.</param>
    /// <returns>How many EDUs were written.</returns>
    public static int WriteEdus(Utf8JsonWriter writer, PresenceMessage message, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(message);
        var edus = ToEdus(message, now);
        foreach (var edu in edus)
        {
            JsonSerializer.Serialize(writer, edu!, PresenceJsonContext.Default.EduDto);
        }

        return edus.Count;
    }

    private static bool IsPresenceEdu(string type) => type is "m.presence" or "m.presence_invite" or "m.presence_accept" or "m.presence_deny";

    private static PresenceMessage? TryReadEduCore(string type, JsonElement content, DateTimeOffset now, string path, IList<string> problems)
    {
        if (content.ValueKind == JsonValueKind.Object && System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(content).Length > MaxDocumentBytes)
        {
            throw new PresenceFormatException($"{path}: {System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(content).Length} bytes of presence content; at most {MaxDocumentBytes} are read.");
        }

        if (type == "m.presence")
        {
            var dto = DeserializeElement(content, PresenceJsonContext.Default.PresenceEduContentDto, path);
            var push = new List<PresenceSnapshot>();
            var poll = new List<UserId>();
            var unpoll = new List<UserId>();
            ReadPresenceContent(dto, now, path, push, poll, unpoll, problems);
            TimeSpan? lifetime = dto.PromiseLifetimeMs is > 0 and <= 365L * 24 * 60 * 60 * 1000 and var ms ? TimeSpan.FromMilliseconds(ms) : null;
            return new PresenceMessage(push, poll, unpoll, dto.Reminder == true, lifetime) { Sequence = dto.Sequence is > 0 and var seq ? seq : null };
        }

        var list = DeserializeElement(content, PresenceJsonContext.Default.ListEduContentDto, path);
        if (UserId.TryParse(list.ObserverUser, out var observer, out _) && UserId.TryParse(list.ObservedUser, out var observed, out _) && observer != observed)
        {
            var action = type switch
            {
                "m.presence_invite" => PresenceListAction.Invite,
                "m.presence_accept" => PresenceListAction.Accept,
                _ => PresenceListAction.Deny,
            };
            return new PresenceMessage(listRequests: [new PresenceListRequest(action, observer, observed)]);
        }

        problems.Add($"{path}: observer_user and observed_user must be two valid user IDs.");
        return null;
    }

    /// <summary>The presence EDUs of one transaction as one message (one transaction is one message to the engine).</summary>
    private static PresenceMessage Merge(List<PresenceMessage> messages)
    {
        if (messages.Count == 1)
        {
            return messages[0];
        }

        TimeSpan? lifetime = null;
        long? sequence = null;
        foreach (var m in messages)
        {
            lifetime ??= m.PromiseLifetime;
            if (m.Sequence is { } s && (sequence is null || s > sequence))
            {
                sequence = s;
            }
        }

        return new PresenceMessage(
            [.. messages.SelectMany(static m => m.Push)],
            [.. messages.SelectMany(static m => m.Poll)],
            [.. messages.SelectMany(static m => m.Unpoll)],
            messages.Any(static m => m.IsReminder),
            lifetime,
            [.. messages.SelectMany(static m => m.ListRequests)]) { Sequence = sequence };
    }

    private static List<EduDto?> ToEdus(PresenceMessage message, DateTimeOffset now)
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
                Sequence = message.Sequence,
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
        entry.DeviceKinds = KindNames(presence.DeviceKinds);
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

    private static readonly (DeviceKinds Kind, string Name)[] KindNameTable =
        [(DeviceKinds.Standard, "standard"), (DeviceKinds.Mobile, "mobile"), (DeviceKinds.Web, "web"), (DeviceKinds.Limited, "limited")];

    private static List<string?>? KindNames(DeviceKinds kinds)
    {
        if (kinds == DeviceKinds.None)
        {
            return null;
        }

        var names = new List<string?>(4);
        foreach (var (kind, name) in KindNameTable)
        {
            if ((kinds & kind) != 0)
            {
                names.Add(name);
            }
        }

        return names;
    }

    private static DeviceKinds ParseKinds(List<string?>? names)
    {
        var kinds = DeviceKinds.None;
        if (names is null)
        {
            return kinds;
        }

        foreach (var name in names.Take(KindNameTable.Length * 2))
        {
            foreach (var (kind, known) in KindNameTable)
            {
                if (string.Equals(name, known, StringComparison.Ordinal))
                {
                    kinds |= kind; // unknown names (a newer peer's kinds) are ignored
                }
            }
        }

        return kinds;
    }

    private static void ReadPresenceContent(PresenceEduContentDto content, DateTimeOffset now, string path, List<PresenceSnapshot> push, List<UserId> poll, List<UserId> unpoll, IList<string> problems)
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
                push.Add(Snapshot(user, entry.Presence, entry.LastActiveAgo, entry.CurrentlyActive, entry.StatusMsg, now, at, ParseKinds(entry.DeviceKinds)));
            }
            catch (PresenceFormatException ex)
            {
                problems.Add(ex.Message); // one bad entry does not spoil the rest
            }
        }

        ReadUsers(content.Poll, path + ".poll", poll, problems);
        ReadUsers(content.Unpoll, path + ".unpoll", unpoll, problems);
    }

    private static void ReadUsers(List<string?>? users, string path, List<UserId> into, IList<string> problems)
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

    private static PresenceSnapshot Snapshot(UserId user, string? presence, long? lastActiveAgo, bool? currentlyActive, string? status, DateTimeOffset now, string path, DeviceKinds kinds = DeviceKinds.None)
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

        return new PresenceSnapshot(user, state, CheckStatus(status, path + ".status_msg"), lastActive, currentlyActive == true, kinds);
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
