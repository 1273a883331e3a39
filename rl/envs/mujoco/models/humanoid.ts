/**
 * Humanoid-v5's body, from Gymnasium 1.3.0's `gymnasium/envs/mujoco/assets/humanoid.xml` (the asset
 * `humanoid_v5.py` loads): the same compiler settings, defaults, option (RK4, 3 ms, PGS solver with 50
 * iterations), bodies, free root joint, hinges (armature, damping, stiffness, ranges), geoms, the two
 * fixed tendons (v5 reports their length and velocity) and actuators. Left out, as they change no
 * number of the simulation: the light, the cameras, the visual map, the textures and materials, geom
 * colours, the geoms' `user` values with their `nuser_geom` slot, and the five empty keyframes of
 * `nkey`.
 *
 * One number differs, so that the contacts are those Gymnasium gets (as in hopper.ts): every geom of
 * the asset has margin 0.001, and since MuJoCo 3.9 a contact's margin is the sum of its two geoms'
 * (0.002; the mujoco that Gymnasium installs, 3.14, does so), where MuJoCo 3.3.8 — the WebAssembly
 * build here — takes the larger of the two (0.001). Declaring 0.002 per geom gives every contact
 * (the floor's and the body's own) 0.002 under both.
 */
export const HUMANOID_XML = `<mujoco model="humanoid">
  <compiler angle="degree" inertiafromgeom="true"/>
  <default>
    <joint armature="1" damping="1" limited="true"/>
    <geom conaffinity="1" condim="1" contype="1" margin="0.002"/>
    <motor ctrllimited="true" ctrlrange="-.4 .4"/>
  </default>
  <option integrator="RK4" iterations="50" solver="PGS" timestep="0.003"/>
  <worldbody>
    <geom condim="3" friction="1 .1 .1" name="floor" pos="0 0 0" size="20 20 0.125" type="plane"/>
    <body name="torso" pos="0 0 1.4">
      <joint armature="0" damping="0" limited="false" name="root" pos="0 0 0" stiffness="0" type="free"/>
      <geom fromto="0 -.07 0 0 .07 0" name="torso1" size="0.07" type="capsule"/>
      <geom name="head" pos="0 0 .19" size=".09" type="sphere"/>
      <geom fromto="-.01 -.06 -.12 -.01 .06 -.12" name="uwaist" size="0.06" type="capsule"/>
      <body name="lwaist" pos="-.01 0 -0.260" quat="1.000 0 -0.002 0">
        <geom fromto="0 -.06 0 0 .06 0" name="lwaist" size="0.06" type="capsule"/>
        <joint armature="0.02" axis="0 0 1" damping="5" name="abdomen_z" pos="0 0 0.065" range="-45 45" stiffness="20" type="hinge"/>
        <joint armature="0.02" axis="0 1 0" damping="5" name="abdomen_y" pos="0 0 0.065" range="-75 30" stiffness="10" type="hinge"/>
        <body name="pelvis" pos="0 0 -0.165" quat="1.000 0 -0.002 0">
          <joint armature="0.02" axis="1 0 0" damping="5" name="abdomen_x" pos="0 0 0.1" range="-35 35" stiffness="10" type="hinge"/>
          <geom fromto="-.02 -.07 0 -.02 .07 0" name="butt" size="0.09" type="capsule"/>
          <body name="right_thigh" pos="0 -0.1 -0.04">
            <joint armature="0.01" axis="1 0 0" damping="5" name="right_hip_x" pos="0 0 0" range="-25 5" stiffness="10" type="hinge"/>
            <joint armature="0.01" axis="0 0 1" damping="5" name="right_hip_z" pos="0 0 0" range="-60 35" stiffness="10" type="hinge"/>
            <joint armature="0.0080" axis="0 1 0" damping="5" name="right_hip_y" pos="0 0 0" range="-110 20" stiffness="20" type="hinge"/>
            <geom fromto="0 0 0 0 0.01 -.34" name="right_thigh1" size="0.06" type="capsule"/>
            <body name="right_shin" pos="0 0.01 -0.403">
              <joint armature="0.0060" axis="0 -1 0" name="right_knee" pos="0 0 .02" range="-160 -2" type="hinge"/>
              <geom fromto="0 0 0 0 0 -.3" name="right_shin1" size="0.049" type="capsule"/>
              <body name="right_foot" pos="0 0 -0.45">
                <geom name="right_foot" pos="0 0 0.1" size="0.075" type="sphere"/>
              </body>
            </body>
          </body>
          <body name="left_thigh" pos="0 0.1 -0.04">
            <joint armature="0.01" axis="-1 0 0" damping="5" name="left_hip_x" pos="0 0 0" range="-25 5" stiffness="10" type="hinge"/>
            <joint armature="0.01" axis="0 0 -1" damping="5" name="left_hip_z" pos="0 0 0" range="-60 35" stiffness="10" type="hinge"/>
            <joint armature="0.01" axis="0 1 0" damping="5" name="left_hip_y" pos="0 0 0" range="-110 20" stiffness="20" type="hinge"/>
            <geom fromto="0 0 0 0 -0.01 -.34" name="left_thigh1" size="0.06" type="capsule"/>
            <body name="left_shin" pos="0 -0.01 -0.403">
              <joint armature="0.0060" axis="0 -1 0" name="left_knee" pos="0 0 .02" range="-160 -2" stiffness="1" type="hinge"/>
              <geom fromto="0 0 0 0 0 -.3" name="left_shin1" size="0.049" type="capsule"/>
              <body name="left_foot" pos="0 0 -0.45">
                <geom name="left_foot" type="sphere" size="0.075" pos="0 0 0.1"/>
              </body>
            </body>
          </body>
        </body>
      </body>
      <body name="right_upper_arm" pos="0 -0.17 0.06">
        <joint armature="0.0068" axis="2 1 1" name="right_shoulder1" pos="0 0 0" range="-85 60" stiffness="1" type="hinge"/>
        <joint armature="0.0051" axis="0 -1 1" name="right_shoulder2" pos="0 0 0" range="-85 60" stiffness="1" type="hinge"/>
        <geom fromto="0 0 0 .16 -.16 -.16" name="right_uarm1" size="0.04 0.16" type="capsule"/>
        <body name="right_lower_arm" pos=".18 -.18 -.18">
          <joint armature="0.0028" axis="0 -1 1" name="right_elbow" pos="0 0 0" range="-90 50" stiffness="0" type="hinge"/>
          <geom fromto="0.01 0.01 0.01 .17 .17 .17" name="right_larm" size="0.031" type="capsule"/>
          <geom name="right_hand" pos=".18 .18 .18" size="0.04" type="sphere"/>
        </body>
      </body>
      <body name="left_upper_arm" pos="0 0.17 0.06">
        <joint armature="0.0068" axis="2 -1 1" name="left_shoulder1" pos="0 0 0" range="-60 85" stiffness="1" type="hinge"/>
        <joint armature="0.0051" axis="0 1 1" name="left_shoulder2" pos="0 0 0" range="-60 85" stiffness="1" type="hinge"/>
        <geom fromto="0 0 0 .16 .16 -.16" name="left_uarm1" size="0.04 0.16" type="capsule"/>
        <body name="left_lower_arm" pos=".18 .18 -.18">
          <joint armature="0.0028" axis="0 -1 -1" name="left_elbow" pos="0 0 0" range="-90 50" stiffness="0" type="hinge"/>
          <geom fromto="0.01 -0.01 0.01 .17 -.17 .17" name="left_larm" size="0.031" type="capsule"/>
          <geom name="left_hand" pos=".18 -.18 .18" size="0.04" type="sphere"/>
        </body>
      </body>
    </body>
  </worldbody>
  <tendon>
    <fixed name="left_hipknee">
      <joint coef="-1" joint="left_hip_y"/>
      <joint coef="1" joint="left_knee"/>
    </fixed>
    <fixed name="right_hipknee">
      <joint coef="-1" joint="right_hip_y"/>
      <joint coef="1" joint="right_knee"/>
    </fixed>
  </tendon>
  <actuator>
    <motor gear="100" joint="abdomen_y" name="abdomen_y"/>
    <motor gear="100" joint="abdomen_z" name="abdomen_z"/>
    <motor gear="100" joint="abdomen_x" name="abdomen_x"/>
    <motor gear="100" joint="right_hip_x" name="right_hip_x"/>
    <motor gear="100" joint="right_hip_z" name="right_hip_z"/>
    <motor gear="300" joint="right_hip_y" name="right_hip_y"/>
    <motor gear="200" joint="right_knee" name="right_knee"/>
    <motor gear="100" joint="left_hip_x" name="left_hip_x"/>
    <motor gear="100" joint="left_hip_z" name="left_hip_z"/>
    <motor gear="300" joint="left_hip_y" name="left_hip_y"/>
    <motor gear="200" joint="left_knee" name="left_knee"/>
    <motor gear="25" joint="right_shoulder1" name="right_shoulder1"/>
    <motor gear="25" joint="right_shoulder2" name="right_shoulder2"/>
    <motor gear="25" joint="right_elbow" name="right_elbow"/>
    <motor gear="25" joint="left_shoulder1" name="left_shoulder1"/>
    <motor gear="25" joint="left_shoulder2" name="left_shoulder2"/>
    <motor gear="25" joint="left_elbow" name="left_elbow"/>
  </actuator>
</mujoco>
`;
