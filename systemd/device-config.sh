# shellcheck shell=bash
# Sourced by install-device.sh: what hardware this unit has, and what device.toml says about
# it. Reads only (probes and questions); the caller writes the file. Uses the caller's $root
# (LESSONCAM_ROOT), $tmp, $conf, $sample and its say/warn/ask helpers.

# --- detection (reads only) ----------------------------------------------------------------

detect_model() {
  model=""
  if [ -r "$root/proc/device-tree/model" ]; then
    model=$(tr -d '\0' < "$root/proc/device-tree/model")
  fi
  case "$model" in
    *"Raspberry Pi 5"* | *"Compute Module 5"*) pi=5 ;;
    *"Raspberry Pi 4"* | *"Compute Module 4"*) pi=4 ;; # the Pi 400 too
    *"Raspberry Pi"*) pi=old ;;
    *) pi="" ;;
  esac
}

# Pi cameras as "NUMBER SENSOR" lines; returns 1 when no tool can list them.
detect_pi_cameras() {
  local tool
  for tool in rpicam-hello libcamera-hello; do
    if command -v "$tool" >/dev/null; then
      { "$tool" --list-cameras 2>&1 || true; } | sed -n -E 's/^[[:space:]]*([0-9]+) : ([^ ]+) .*/\1 \2/p'
      return 0
    fi
  done
  return 1
}

# USB webcams as "PATH NAME": udev names each USB camera's capture node
# /dev/v4l/by-id/usb-<vendor>_<model>_<serial>-video-index0, a name that survives re-plugging
# (the Pi's own /dev/video* nodes, for CSI and the ISP, have no such link).
detect_webcams() {
  local link name
  for link in "$root"/dev/v4l/by-id/usb-*-video-index0; do
    [ -e "$link" ] || [ -L "$link" ] || continue
    name=${link##*/usb-}
    name=${name%-video-index0}
    printf '%s %s\n' "${link#"$root"}" "${name//_/ }"
  done
}

# ALSA capture devices as "PCM|NAME": the card's name, not its number, which USB re-plugging
# can change; plughw converts the rate and channels the config asks for.
detect_microphones() {
  command -v arecord >/dev/null || return 1
  { arecord -l 2>/dev/null || true; } |
    sed -n -E 's/^card [0-9]+: ([^ ]+) \[(.*)\], device ([0-9]+): .*/plughw:CARD=\1,DEV=\3|\2/p'
}

# The addresses answering on I2C bus 1 (two hex digits each); returns 1 when it cannot look.
detect_i2c() {
  [ -e "$root/dev/i2c-1" ] || return 1
  command -v i2cdetect >/dev/null || return 1
  i2cdetect -y 1 2>/dev/null | awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9a-f][0-9a-f]$/) print $i }'
}

non_empty() { printf '%s\n' "$1" | sed '/^$/d'; }

detect() {
  detect_model
  say "== what this unit has"
  if [ -n "$pi" ]; then
    say "model: $model"
    [ "$pi" != old ] || warn "lessoncam needs a Raspberry Pi 4 or 5: this one is too slow to encode and track"
  else
    warn "no Raspberry Pi model in $root/proc/device-tree/model: set [cameras] and [audio] by hand"
  fi

  # Each probe's lines into an array; a probe that cannot look says so by its status.
  local lines
  pi_camera_tool=1
  lines=$(detect_pi_cameras) || pi_camera_tool=0
  mapfile -t pi_cameras < <(non_empty "$lines")
  mapfile -t webcams < <(detect_webcams)
  mic_tool=1
  lines=$(detect_microphones) || mic_tool=0
  mapfile -t mics < <(non_empty "$lines")
  i2c_state=on
  if ! lines=$(detect_i2c); then
    i2c_state=unknown
    [ -e "$root/dev/i2c-1" ] || i2c_state=off
  fi
  mapfile -t i2c < <(non_empty "$lines")

  local cam
  if [ "$pi_camera_tool" = 0 ]; then
    say "Pi cameras: cannot list them (no rpicam-hello or libcamera-hello)"
  elif [ "${#pi_cameras[@]}" = 0 ]; then
    say "Pi cameras: none found"
  fi
  for cam in "${pi_cameras[@]}"; do
    say "Pi camera ${cam%% *}: ${cam#* }"
  done
  for cam in "${webcams[@]}"; do
    say "USB webcam: ${cam#* } (${cam%% *})"
  done
  if [ "$mic_tool" = 0 ]; then
    say "microphones: cannot list them (no arecord)"
  elif [ "${#mics[@]}" = 0 ]; then
    say "microphones: none found"
  fi
  local mic
  for mic in "${mics[@]}"; do
    say "microphone: ${mic#*|} (${mic%%|*})"
  done
  case "$i2c_state" in
    off) say "I2C: off (no /dev/i2c-1), so a motor board cannot be seen" ;;
    unknown) say "I2C: cannot probe it (no i2cdetect)" ;;
    *) say "I2C bus 1 answers at: ${i2c[*]:-nothing}" ;;
  esac
}

# --- device.toml ---------------------------------------------------------------------------

# Choose what device.toml says, asking what detection left open. Fills $sets (a file of
# "section<TAB>key<TAB>TOML value" lines), $second (a camera table, or empty) and $found.
choose_config() {
  sets="$tmp/sets"
  second="$tmp/second"
  found="$tmp/found"
  : > "$sets"
  : > "$second"
  : > "$found"
  set_key() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$sets"; }
  note() { printf '#   %s\n' "$*" >> "$found"; }

  [ -z "$pi" ] || { set_key unit hardware '"pi"'; note "$model"; }

  # Cameras: Pi cameras first (a Pi 5 has two connectors); else USB webcams. Of two, which
  # one follows the teacher cannot be seen: asked.
  local source="" main="" other="" what="" other_what="" cams=()
  if [ "${#pi_cameras[@]}" -gt 0 ]; then
    source=picamera2 cams=("${pi_cameras[@]}")
    [ "${#webcams[@]}" = 0 ] ||
      warn "a USB webcam was found too; a Pi camera and a webcam cannot record together yet"
  elif [ "${#webcams[@]}" -gt 0 ]; then
    source=v4l2 cams=("${webcams[@]}")
  fi
  camera_words() {
    if [ "$source" = picamera2 ]; then
      printf 'Pi camera %s (%s)' "${1%% *}" "${1#* }"
    else
      printf 'USB webcam %s (%s)' "${1#* }" "${1%% *}"
    fi
  }
  if [ "${#cams[@]}" -gt 0 ]; then
    local first=0
    if [ "${#cams[@]}" -gt 1 ]; then
      say "cameras found:"
      say "  1) $(camera_words "${cams[0]}")"
      say "  2) $(camera_words "${cams[1]}")"
      ask "Which camera follows the teacher (the other films the pupils)?" 1 1 2
      first=$((REPLY - 1))
      other=${cams[$((1 - first))]%% *}
      other_what=$(camera_words "${cams[$((1 - first))]}")
    fi
    main=${cams[$first]%% *}
    what=$(camera_words "${cams[$first]}")
    [ "${#cams[@]}" -le 2 ] || warn "more than two cameras: device.toml names two"
  elif [ "$pi_camera_tool" = 0 ]; then
    ask "Is a Raspberry Pi camera connected (y/n)?" y y n
    if [ "$REPLY" = y ]; then
      source=picamera2 main=0 what="Pi camera 0 (not detected: you said so)"
    fi
  else
    warn "no camera found: device.toml names Pi camera 0; connect it (the unit cannot record without one)"
    source=picamera2 main=0 what="Pi camera 0 (not found when installing)"
  fi
  if [ -n "$source" ]; then
    set_key cameras.main source "\"$source\""
    set_key cameras.main device "\"$main\""
    note "main camera: $what"
  else
    warn "no camera: device.toml keeps the simulated camera"
  fi
  if [ -n "$other" ]; then
    printf '[cameras.pupils]\n# The second camera: %s.\nsource = "%s"\ndevice = "%s"\nlabel = "pupils"\nwidth = 1920\nheight = 1080\nfps = 30\n\n' \
      "$other_what" "$source" "$other" > "$second"
    note "second camera (pupils): $other_what"
  fi

  # The microphone.
  local mic=""
  if [ "${#mics[@]}" = 1 ]; then
    mic=${mics[0]}
  elif [ "${#mics[@]}" -gt 1 ]; then
    local i=1 choices=()
    say "microphones found:"
    for m in "${mics[@]}"; do
      say "  $i) ${m#*|} (${m%%|*})"
      choices+=("$i")
      i=$((i + 1))
    done
    ask "Which microphone records the lesson?" 1 "${choices[@]}"
    mic=${mics[$((REPLY - 1))]}
  elif [ "$mic_tool" = 0 ] && [ -n "$source" ]; then
    ask "No arecord to list microphones. ALSA device of the microphone (or none)?" none
    [ "$REPLY" = none ] || mic="$REPLY|(not detected: you said so)"
  fi
  if [ -n "$mic" ]; then
    set_key audio source '"alsa"'
    set_key audio device "\"${mic%%|*}\""
    note "microphone: ${mic#*|} (${mic%%|*})"
  elif [ -n "$source" ]; then
    warn "no microphone: lessons record without sound; plug one in and set [audio] in $conf"
    set_key audio source '"none"'
    note "microphone: none found (lessons record without sound)"
  fi

  # The motor: a board on I2C is seen; a servo on a pin is not, so that one is asked.
  local kind="" board=""
  for address in "${i2c[@]}"; do
    case "$address" in
      15) board=pantilt_hat ;;
      40) [ "$board" = pantilt_hat ] || board=pca9685 ;;
    esac
  done
  if [ -n "$board" ]; then
    kind=$board
  elif [ -n "$source" ]; then
    local kinds=(none servo)
    if [ "$i2c_state" != on ]; then
      kinds+=(pca9685 pantilt_hat)
      say "(a motor board on I2C cannot be seen while I2C is off: sudo raspi-config nonint do_i2c 0, reboot, and run this again)"
    fi
    ask "No motor board answers on I2C. Which motor turns the camera (${kinds[*]})?" none "${kinds[@]}"
    kind=$REPLY
  fi
  case "$kind" in
    pca9685)
      local channels=()
      mapfile -t channels < <(seq 0 15)
      ask "Which PCA9685 channel is the pan servo on (0-15)?" 0 "${channels[@]}"
      set_key motor kind '"pca9685"'
      set_key motor i2c_address 64
      set_key motor pca9685_channel "$REPLY"
      note "motor: PCA9685 servo board at I2C 0x40, channel $REPLY"
      ;;
    pantilt_hat)
      set_key motor kind '"pantilt_hat"'
      set_key motor min_pulse_us 575.0
      set_key motor max_pulse_us 2325.0
      note "motor: Pimoroni Pan-Tilt HAT at I2C 0x15"
      ;;
    servo)
      if [ "$pi" = 5 ]; then
        set_key motor kind '"hardware_pwm"'
        note "motor: a servo on GPIO 18, the Pi 5's hardware PWM (add dtoverlay=pwm-2chan to /boot/firmware/config.txt)"
        say "for the servo: add dtoverlay=pwm-2chan to /boot/firmware/config.txt and reboot"
      else
        set_key motor kind '"gpio_servo"'
        note "motor: a servo on GPIO 18 through pigpio (sudo apt install pigpiod && sudo systemctl enable --now pigpiod)"
        say "for the servo: sudo apt install pigpiod && sudo systemctl enable --now pigpiod"
      fi
      ;;
    none)
      set_key motor kind '"none"'
      note "motor: none (a fixed camera)"
      ;;
  esac

  # The button and the light cannot be seen from software.
  if [ -n "$pi" ]; then
    local pins=()
    mapfile -t pins < <(seq 0 27)
    ask "BCM pin of the start/stop button?" 17 "${pins[@]}"
    local button=$REPLY
    set_key controls button_pin "$button"
    ask "BCM pin of the status LED?" 27 "${pins[@]}"
    set_key controls led_pin "$REPLY"
    note "button on BCM $button, LED on BCM $REPLY"
  fi
}

# The sample with the chosen values set in place and the second camera after the main one.
render_config() {
  {
    printf '# %s, written by systemd/install-device.sh from what it found:\n' "$conf"
    cat "$found"
    printf '# A later run of the script keeps this file. Check it: lessoncam-device check-config\n\n'
    awk -F'\t' -v second="$second" '
      FNR == NR { value[$1 SUBSEP $2] = $3; next }
      /^\[/ { section = $0; gsub(/^\[|\]$/, "", section) }
      /^\[audio\]$/ { while ((getline line < second) > 0) print line }
      /^[a-z0-9_]+ = / {
        key = $0; sub(/ = .*/, "", key)
        if ((section SUBSEP key) in value) {
          print key " = " value[section SUBSEP key]; done[section SUBSEP key] = 1; next
        }
      }
      { print }
      END {
        for (k in value) if (!(k in done)) { split(k, p, SUBSEP); print "no key " p[2] " in [" p[1] "]" > "/dev/stderr"; bad = 1 }
        exit bad
      }' "$sets" "$sample"
  } > "$tmp/device.toml"
}
