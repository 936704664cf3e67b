#!/bin/sh
# convert.sh -- saferlhf-convert: llama2c import (a tiny synthetic checkpoint built here, and
# stories260K from ../shared when present), tensor names/shapes, the RoPE row permutation
# (bytes compared with the source), dtypes, truncated inputs, refusing to clobber a directory,
# gpt2-tokenizer and info.  Run from the repository root; prints PASS/FAIL/SKIP lines.
suite=convert
. "$(dirname "$0")/lib.sh"
conv=$bin/saferlhf-convert
need_built "$conv"

# int32 little-endian as printf octal escapes
le32() {
    v=$1
    [ "$v" -lt 0 ] && v=$((v + 4294967296))
    printf "\\$(printf %03o $((v & 255)))\\$(printf %03o $(((v >> 8) & 255)))"
    printf "\\$(printf %03o $(((v >> 16) & 255)))\\$(printf %03o $(((v >> 24) & 255)))"
}

# Bytes [off, off+n) of a file, as hex.
bytes() { od -An -tx1 -v -j "$2" -N "$3" "$1" | tr -d ' \n'; }

# Offset of a tensor's data in a safetensors file: 8 + header length + data_offsets[0].
st_offset() {
    hlen=$(od -An -tu4 -N4 "$1" | tr -d ' ')
    begin=$(head -c $((8 + hlen)) "$1" | tail -c "$hlen" |
        sed "s/.*\"$2\":{[^}]*\"data_offsets\":\[\([0-9]*\),.*/\1/")
    echo $((8 + hlen + begin))
}

# --- a synthetic llama2.c checkpoint: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head,
# vocab 32 with its own classifier (-32), seq_len 4; 1128 floats of deterministic bytes ------
{
    for v in 8 16 1 2 1 -32 4; do le32 "$v"; done
    awk 'BEGIN { for (i = 0; i < 4512; i++) printf "%c", (i * 37 + int(i / 7)) % 251 + 1 }'
} >"$tmp/tiny.bin"
{
    le32 8
    i=0
    for t in "<unk>" "
<s>
" "
</s>
" a b c d e f g h i j k l m n o p q r s t u v w x y z " a" " b" " c"; do
        printf '\000\000\000\000'
        le32 ${#t}
        printf '%s' "$t"
    done
} >"$tmp/tiny_tok.bin"

out=$tmp/tiny
if "$conv" -q llama2c "$tmp/tiny.bin" "$tmp/tiny_tok.bin" -o "$out" 2>"$tmp/err"; then
    ok "llama2c synthetic (untied) exits 0"
else
    bad "llama2c synthetic exits non-zero: $(cat "$tmp/err")"
fi
for f in config.json model.safetensors tokenizer.json tokenizer_config.json \
    generation_config.json; do
    [ -s "$out/$f" ] || bad "llama2c synthetic wrote no $f"
done
check "config: untied, rms_norm_eps, max_position_embeddings" \
    sh -c "grep -q '\"tie_word_embeddings\": false' '$out/config.json' &&
           grep -q '\"max_position_embeddings\": 4,' '$out/config.json' &&
           grep -q '\"rms_norm_eps\": 1e-5' '$out/config.json' &&
           grep -q '\"LlamaForCausalLM\"' '$out/config.json'"
"$conv" info --tensors "$out" >"$tmp/info" 2>&1
check "info: parameter count 1112 checked against the tensors" \
    grep -q '^parameters: *1112 (equals the 1112 in 12 tensors)' "$tmp/info"
check "info: tensor names and shapes" sh -c "
    grep -qx 'lm_head.weight float32 \[32, 8\]' '$tmp/info' &&
    grep -qx 'model.embed_tokens.weight float32 \[32, 8\]' '$tmp/info' &&
    grep -qx 'model.layers.0.self_attn.q_proj.weight float32 \[8, 8\]' '$tmp/info' &&
    grep -qx 'model.layers.0.self_attn.k_proj.weight float32 \[4, 8\]' '$tmp/info' &&
    grep -qx 'model.layers.0.self_attn.v_proj.weight float32 \[4, 8\]' '$tmp/info' &&
    grep -qx 'model.layers.0.mlp.gate_proj.weight float32 \[16, 8\]' '$tmp/info' &&
    grep -qx 'model.layers.0.mlp.down_proj.weight float32 \[8, 16\]' '$tmp/info' &&
    grep -qx 'model.layers.0.post_attention_layernorm.weight float32 \[8\]' '$tmp/info' &&
    grep -qx 'model.norm.weight float32 \[8\]' '$tmp/info'"

# RoPE permutation: HF row h*hs + j*hs/2 + i holds llama2.c row h*hs + 2i + j (hs 4, dim 8:
# rows are 32 bytes).  wq starts after the header (28) + embedding (256 floats) + rms_att (8).
st=$out/model.safetensors
q=$(st_offset "$st" model.layers.0.self_attn.q_proj.weight)
wq=$((28 + 4 * (256 + 8)))
perm_ok=1
for pair in 0:0 1:2 2:1 3:3 4:4 5:6 6:5 7:7; do
    hf=${pair%:*} src=${pair#*:}
    [ "$(bytes "$st" $((q + 32 * hf)) 32)" = "$(bytes "$tmp/tiny.bin" $((wq + 32 * src)) 32)" ] ||
        perm_ok=0
done
k=$(st_offset "$st" model.layers.0.self_attn.k_proj.weight)
wk=$((wq + 4 * 64))
for pair in 0:0 1:2 2:1 3:3; do
    hf=${pair%:*} src=${pair#*:}
    [ "$(bytes "$st" $((k + 32 * hf)) 32)" = "$(bytes "$tmp/tiny.bin" $((wk + 32 * src)) 32)" ] ||
        perm_ok=0
done
# v_proj is copied as is; gate_proj is w1 (after wv, wo, rms_ffn)
v=$(st_offset "$st" model.layers.0.self_attn.v_proj.weight)
[ "$(bytes "$st" "$v" 128)" = "$(bytes "$tmp/tiny.bin" $((wk + 128)) 128)" ] || perm_ok=0
g=$(st_offset "$st" model.layers.0.mlp.gate_proj.weight)
[ "$(bytes "$st" "$g" 512)" = "$(bytes "$tmp/tiny.bin" $((wk + 128 + 128 + 256 + 32)) 512)" ] ||
    perm_ok=0
if [ $perm_ok -eq 1 ]; then ok "q/k rows permuted to rotate_half order, v and w1 copied"; else
    bad "q/k/v/gate bytes differ from the llama2.c source"; fi

"$conv" -q llama2c "$tmp/tiny.bin" "$tmp/tiny_tok.bin" -o "$tmp/tiny16" --dtype bfloat16 &&
    "$conv" info --tensors "$tmp/tiny16" >"$tmp/info16" 2>&1
check "llama2c --dtype bfloat16" sh -c "
    grep -q '^dtype: *bfloat16 (tensors: bfloat16 (12))' '$tmp/info16' &&
    grep -qx 'lm_head.weight bfloat16 \[32, 8\]' '$tmp/info16' &&
    [ \$(wc -c <'$tmp/tiny16/model.safetensors') -lt \$(wc -c <'$st') ]"

# --- errors ----------------------------------------------------------------------------------
head -c 3000 "$tmp/tiny.bin" >"$tmp/trunc.bin"
"$conv" llama2c "$tmp/trunc.bin" "$tmp/tiny_tok.bin" -o "$tmp/t1" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
    grep -q "$tmp/trunc.bin: truncated llama2.c checkpoint: 3000 bytes, ends inside w3" \
        "$tmp/err" && [ ! -e "$tmp/t1" ] && [ -z "$(ls -d "$tmp"/t1.* 2>/dev/null)" ]; then
    ok "truncated checkpoint: one line, exit 1, nothing left behind"
else
    bad "truncated checkpoint: exit $rc, stderr: $(cat "$tmp/err")"
fi
head -c 10 "$tmp/tiny.bin" >"$tmp/short.bin"
"$conv" llama2c "$tmp/short.bin" "$tmp/tiny_tok.bin" -o "$tmp/t2" 2>"$tmp/err"
rc=$?
check "header-only truncation names the header" sh -c \
    "[ $rc -eq 1 ] && grep -q 'the header needs 28' '$tmp/err'"
"$conv" llama2c "$tmp/nonexistent.bin" "$tmp/tiny_tok.bin" -o "$tmp/t3" 2>/dev/null
check "missing input exits 1" [ $? -eq 1 ]

mkdir "$tmp/precious"
echo keep >"$tmp/precious/notes.txt"
"$conv" llama2c "$tmp/tiny.bin" "$tmp/tiny_tok.bin" -o "$tmp/precious" 2>"$tmp/err"
rc=$?
check "refuses to replace a directory that is not a checkpoint" sh -c \
    "[ $rc -eq 1 ] && grep -q 'not a checkpoint directory' '$tmp/err' &&
     [ \"\$(cat '$tmp/precious/notes.txt')\" = keep ]"

echo mine >"$out/notes.txt"
"$conv" -q llama2c "$tmp/tiny.bin" "$tmp/tiny_tok.bin" -o "$out" 2>"$tmp/err"
rc=$?
check "refuses a checkpoint holding a file saferlhf did not write, and keeps it" sh -c \
    "[ $rc -eq 1 ] && grep -q \"holds 'notes.txt'\" '$tmp/err' && [ -s '$out/notes.txt' ]"
rm "$out/notes.txt"
echo stale >"$out/special_tokens_map.json"
"$conv" -q llama2c "$tmp/tiny.bin" "$tmp/tiny_tok.bin" -o "$out"
rc=$?
check "replaces an existing checkpoint as a whole" sh -c \
    "[ $rc -eq 0 ] && [ ! -e '$out/special_tokens_map.json' ] && [ -s '$out/model.safetensors' ] &&
     [ -z \"\$(ls -d '$out'.tmp.* '$out'.old.* 2>/dev/null)\" ]"

usage_rc() { "$conv" "$@" >/dev/null 2>&1; echo $?; }
check "usage errors exit 2" sh -c "
    [ $(usage_rc) -eq 2 ] && [ $(usage_rc frobnicate x) -eq 2 ] &&
    [ $(usage_rc llama2c "$tmp/tiny.bin" "$tmp/tiny_tok.bin") -eq 2 ] &&
    [ $(usage_rc llama2c a b -o c --dtype int8) -eq 2 ] &&
    [ $(usage_rc info -o x "$out") -eq 2 ] && [ $(usage_rc info) -eq 2 ] &&
    [ $(usage_rc gpt2-tokenizer a b -o c --json) -eq 2 ]"
"$conv" info "$tmp/nowhere" 2>/dev/null
check "info on a missing directory exits 1" [ $? -eq 1 ]
"$conv" info --json "$out" >"$tmp/json"
check "info --json" sh -c "grep -q '\"parameters\":1112,\"tensor_parameters\":1112' '$tmp/json' &&
    grep -q '\"head\":\"lm\",\"tie_word_embeddings\":false' '$tmp/json' &&
    [ \$(wc -l <'$tmp/json') -eq 1 ]"

# --- real data -------------------------------------------------------------------------------
s260=$shared/models/stories260K
if [ -f "$s260/stories260K.bin" ]; then
    "$conv" -q llama2c "$s260/stories260K.bin" "$s260/tok512.bin" -o "$tmp/s260" &&
        "$conv" info --tensors "$tmp/s260" >"$tmp/info" 2>&1
    check "stories260K: converts, 260032 parameters, tied" sh -c "
        grep -q '^parameters: *260032 (equals the 260032 in 47 tensors)' '$tmp/info' &&
        grep -q '^head: *causal LM, tied to the token embedding' '$tmp/info' &&
        grep -q '^heads: *8 (key/value heads 4)' '$tmp/info' &&
        ! grep -q '^lm_head' '$tmp/info' &&
        grep -qx 'model.layers.4.mlp.down_proj.weight float32 \[64, 172\]' '$tmp/info' &&
        grep -qx 'model.layers.4.self_attn.k_proj.weight float32 \[32, 64\]' '$tmp/info' &&
        grep -q '^tokenizer: .*512 tokens' '$tmp/info'"
    st=$tmp/s260/model.safetensors
    k=$(st_offset "$st" model.layers.2.self_attn.k_proj.weight)
    # wk of layer 2: header + emb (512*64) + rms_att (5*64) + wq (5*64*64) + 2 layers of wk
    wk=$((28 + 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 + 2 * 32 * 64)))
    # head 1, hs 8: HF row 8 + 4 + 1 (j=1, i=1) holds source row 8 + 2*1 + 1
    got=$(bytes "$st" $((k + 256 * 13)) 256)
    check "stories260K: k_proj of layer 2 permuted" \
        [ "$got" = "$(bytes "$s260/stories260K.bin" $((wk + 256 * 11)) 256)" ]
    "$conv" -q llama2c "$s260/stories260K.bin" "$s260/tok512.model" -o "$tmp/s260sp" --dtype float16
    check "stories260K: SentencePiece tokenizer, float16" sh -c "
        '$conv' info '$tmp/s260sp' | grep -q '^dtype: *float16 (tensors: float16 (47))' &&
        cmp -s '$tmp/s260/tokenizer.json' '$tmp/s260sp/tokenizer.json' ||
        '$conv' info '$tmp/s260sp' | grep -q '^tokenizer: .*512 tokens'"
else
    echo "SKIP convert stories260K: $s260 absent"
fi
gpt2=$shared/tokenizers/gpt2
if [ -f "$gpt2/encoder.json" ]; then
    cp -r "$tmp/tiny" "$tmp/withtok"
    "$conv" gpt2-tokenizer "$gpt2/encoder.json" "$gpt2/vocab.bpe" -o "$tmp/gpt2tok" &&
        "$conv" info "$tmp/gpt2tok" >"$tmp/info" 2>&1
    check "gpt2-tokenizer: new directory, 50257 tokens" sh -c "
        grep -q '^tokenizer: .*50257 tokens' '$tmp/info' && ! grep -q '^parameters' '$tmp/info'"
    "$conv" gpt2-tokenizer "$gpt2/encoder.json" "$gpt2/vocab.bpe" -o "$tmp/withtok"
    check "gpt2-tokenizer: keeps other files of an existing directory" sh -c "
        [ -s '$tmp/withtok/model.safetensors' ] && [ -s '$tmp/withtok/config.json' ] &&
        ! cmp -s '$tmp/withtok/tokenizer.json' '$tmp/tiny/tokenizer.json'"
else
    echo "SKIP convert gpt2-tokenizer: $gpt2 absent"
fi
# --- train-tokenizer: default fields (strings, messages' contents), --field, specials, pad ----
printf '%s\n' '{"text":"xyxyxy","foo":"abababab"}' \
    '{"messages":[{"role":"user","content":"qzqzqz"}],"id":1}' >"$tmp/texts.jsonl"
"$conv" train-tokenizer "$tmp/texts.jsonl" --vocab-size 260 -o "$tmp/bpe" 2>"$tmp/err"
check "train-tokenizer: default fields and messages' contents" sh -c "
    grep -q '\"xy\":' '$tmp/bpe/tokenizer.json' && grep -q '\"qz\":' '$tmp/bpe/tokenizer.json' &&
    ! grep -q '\"ab\":' '$tmp/bpe/tokenizer.json'"
check "train-tokenizer: 260 tokens, <|endoftext|> the default special (bos = eos)" sh -c "
    '$conv' info '$tmp/bpe' |
        grep -q '^tokenizer: .*260 tokens, 3 merges, specials: <|endoftext|>=0' &&
    grep -q '\"eos_token\": \"<|endoftext|>\"' '$tmp/bpe/tokenizer_config.json'"
"$conv" train-tokenizer "$tmp/texts.jsonl" - --vocab-size 261 --field foo --special '<s>' \
    --special '<pad>' -o "$tmp/bpe2" 2>"$tmp/err" </dev/null
check "train-tokenizer: --field, --special, <pad> is the pad token" sh -c "
    grep -q '\"ab\":' '$tmp/bpe2/tokenizer.json' &&
    ! grep -q '\"xy\":' '$tmp/bpe2/tokenizer.json' &&
    grep -q '\"pad_token\": \"<pad>\"' '$tmp/bpe2/tokenizer_config.json' &&
    grep -q '\"bos_token\": \"<s>\"' '$tmp/bpe2/tokenizer_config.json' &&
    '$conv' info '$tmp/bpe2' | grep -q 'specials: <s>=0, <pad>=1'"
printf '{"text":"a"}\n{"text": oops}\n' >"$tmp/badtexts.jsonl"
"$conv" train-tokenizer "$tmp/badtexts.jsonl" --vocab-size 300 -o "$tmp/bpe3" 2>"$tmp/err"
rc=$?
check "train-tokenizer: a bad record exits 1 with FILE:LINE" sh -c "
    [ $rc -eq 1 ] && grep -q 'badtexts.jsonl:2:' '$tmp/err' && [ ! -e '$tmp/bpe3' ]"
"$conv" train-tokenizer "$tmp/texts.jsonl" --vocab-size 300 --field none -o "$tmp/bpe3" 2>/dev/null
check "train-tokenizer: no texts exits 1" [ $? -eq 1 ]
"$conv" train-tokenizer "$tmp/texts.jsonl" -o "$tmp/bpe3" 2>/dev/null
check "train-tokenizer: missing --vocab-size exits 2" [ $? -eq 2 ]
"$conv" train-tokenizer "$tmp/texts.jsonl" --vocab-size 200 -o "$tmp/bpe3" 2>/dev/null
check "train-tokenizer: --vocab-size 200 exits 2" [ $? -eq 2 ]
"$conv" info --field text "$tmp/bpe" 2>/dev/null
check "--field belongs to train-tokenizer (exit 2)" [ $? -eq 2 ]
exit 0
