using System.Text.Json;
using System.Text.Json.Serialization;

namespace Presence.Json;

internal sealed class ClientEventDto
{
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("sender")]
    public string? Sender { get; set; }

    [JsonPropertyName("content")]
    public PresenceContentDto? Content { get; set; }
}

internal sealed class PresenceContentDto
{
    [JsonPropertyName("presence")]
    public string? Presence { get; set; }

    [JsonPropertyName("last_active_ago")]
    public long? LastActiveAgo { get; set; }

    [JsonPropertyName("currently_active")]
    public bool? CurrentlyActive { get; set; }

    [JsonPropertyName("status_msg")]
    public string? StatusMsg { get; set; }

    /// <summary>The user of a push entry; in a client event's content, legacy (older servers put it there too).</summary>
    [JsonPropertyName("user_id")]
    public string? UserId { get; set; }

    /// <summary>Extension: the kinds of the user's connected devices, as lower-case names. Peers that do not know it ignore it.</summary>
    [JsonPropertyName(MatrixPresenceCodec.DeviceKindsKey)]
    public List<string?>? DeviceKinds { get; set; }
}

internal sealed class StatusRequestDto
{
    [JsonPropertyName("presence")]
    public string? Presence { get; set; }

    [JsonPropertyName("status_msg")]
    public string? StatusMsg { get; set; }
}

internal sealed class ErrorDto
{
    [JsonPropertyName("errcode")]
    public string? Errcode { get; set; }

    [JsonPropertyName("error")]
    public string? Error { get; set; }

    [JsonPropertyName("retry_after_ms")]
    public long? RetryAfterMs { get; set; }
}

internal sealed class PresenceEduContentDto
{
    [JsonPropertyName("push")]
    public List<PresenceContentDto?>? Push { get; set; }

    [JsonPropertyName("poll")]
    public List<string?>? Poll { get; set; }

    [JsonPropertyName("unpoll")]
    public List<string?>? Unpoll { get; set; }

    /// <summary>Extension: the message is a watchdog reminder. Peers that do not know it ignore it.</summary>
    [JsonPropertyName(MatrixPresenceCodec.ReminderKey)]
    public bool? Reminder { get; set; }

    /// <summary>Extension: the sender's promise lifetime in milliseconds.</summary>
    [JsonPropertyName(MatrixPresenceCodec.PromiseLifetimeKey)]
    public long? PromiseLifetimeMs { get; set; }

    /// <summary>Extension: the sender's ordering key for this message (monotonic per sending server).</summary>
    [JsonPropertyName(MatrixPresenceCodec.SequenceKey)]
    public long? Sequence { get; set; }
}

internal sealed class ListEduContentDto
{
    [JsonPropertyName("observer_user")]
    public string? ObserverUser { get; set; }

    [JsonPropertyName("observed_user")]
    public string? ObservedUser { get; set; }
}

internal sealed class EduDto
{
    [JsonPropertyName("edu_type")]
    public string? EduType { get; set; }

    [JsonPropertyName("content")]
    public JsonElement Content { get; set; }
}

internal sealed class TransactionDto
{
    [JsonPropertyName("origin")]
    public string? Origin { get; set; }

    [JsonPropertyName("origin_server_ts")]
    public long? OriginServerTs { get; set; }

    [JsonPropertyName("pdus")]
    public List<JsonElement>? Pdus { get; set; }

    [JsonPropertyName("edus")]
    public List<EduDto?>? Edus { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = MatrixPresenceCodec.MaxDepth)]
[JsonSerializable(typeof(ClientEventDto))]
[JsonSerializable(typeof(PresenceContentDto))]
[JsonSerializable(typeof(StatusRequestDto))]
[JsonSerializable(typeof(ErrorDto))]
[JsonSerializable(typeof(PresenceEduContentDto))]
[JsonSerializable(typeof(ListEduContentDto))]
[JsonSerializable(typeof(EduDto))]
[JsonSerializable(typeof(TransactionDto))]
internal sealed partial class PresenceJsonContext : JsonSerializerContext
{
}
